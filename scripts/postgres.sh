# shellcheck shell=bash
# Sourced by scripts/crash, scripts/pg-faults and scripts/soak: starts a
# throwaway PostgreSQL cluster (as scripts/test does) and exports
#   IRSA_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:PORT/postgres
#   IRSA_PG_CTL             the pg_ctl command for this cluster (with -D and -l)
#   IRSA_PG_START_OPTS      the server options `pg_ctl start -o` needs again
# stop_postgres removes it; callers put it in their EXIT trap.

PG_DIR=""
PG_RUN=()

stop_postgres() {
    if [[ -n "$PG_DIR" ]]; then
        # shellcheck disable=SC2086
        sh -c "$IRSA_PG_CTL -m immediate stop" >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
        PG_DIR=""
    fi
}

start_postgres() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
        echo "error: PostgreSQL binaries not found under /usr/lib/postgresql/*/bin" >&2
        return 1
    fi
    PG_DIR="$(mktemp -d /tmp/irsa-pg.XXXXXX)"
    local prefix=""
    if [[ "$(id -u)" == "0" ]]; then
        # initdb refuses to run as root.
        id -u irsa-pg >/dev/null 2>&1 || useradd --system --no-create-home irsa-pg
        chown irsa-pg "$PG_DIR"
        PG_RUN=(runuser -u irsa-pg --)
        prefix="runuser -u irsa-pg --"
    fi
    "${PG_RUN[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync >/dev/null
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    export IRSA_PG_START_OPTS="-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300"
    export IRSA_PG_CTL="$prefix $bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/log"
    sh -c "$IRSA_PG_CTL -w start -o '$IRSA_PG_START_OPTS'" >/dev/null
    export IRSA_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "==> PostgreSQL running on port $port ($PG_DIR)" >&2
}
