#!/usr/bin/env bash
# A throwaway single-node Garage (S3-compatible store) for the S3 gateway's
# tests and benches.
#
# Sourced by scripts/test, which calls `start_garage` and (from its EXIT trap)
# `stop_garage`. Run directly, it starts Garage, prints the `export` lines
# for the IRSA_TEST_S3_UPSTREAM_* variables and keeps it running until
# interrupted:
#     scripts/garage.sh            # then paste the exports into another shell
#
# start_garage exports:
#     IRSA_TEST_S3_UPSTREAM_URL                 http://127.0.0.1:PORT (S3 API)
#     IRSA_TEST_S3_UPSTREAM_ACCESS_KEY_ID       key id (GK...), may create buckets
#     IRSA_TEST_S3_UPSTREAM_SECRET_ACCESS_KEY   its secret
#     IRSA_TEST_S3_UPSTREAM_REGION              us-east-1 (Garage checks the scope's region)
#     IRSA_TEST_S3_UPSTREAM_ADMIN_URL           http://127.0.0.1:PORT (Garage admin API)
#     IRSA_TEST_S3_UPSTREAM_ADMIN_TOKEN         bearer token for the admin API
# It returns non-zero (after logging why) when Garage cannot be installed or
# started; the caller decides whether that is fatal.

GARAGE_DIR=""
GARAGE_PID=""
GARAGE_BIN=""

garage_log() { printf '==> %s\n' "$*" >&2; }

garage_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Finds the garage binary, installing it with cargo when it is missing.
garage_find_or_install() {
    if command -v garage >/dev/null 2>&1; then
        GARAGE_BIN="$(command -v garage)"
        return 0
    fi
    local cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    if [[ -x "$cargo_bin/garage" ]]; then
        GARAGE_BIN="$cargo_bin/garage"
        return 0
    fi
    garage_log "installing garage with 'cargo install garage --locked' (first run only: about 15 minutes on 2 cores; the binary is kept in $cargo_bin)"
    local install_log
    install_log="$(mktemp /tmp/irsa-garage-install.XXXXXX)"
    if ! cargo install garage --locked >"$install_log" 2>&1; then
        garage_log "cargo install garage failed; last lines of $install_log:"
        tail -n 20 "$install_log" >&2
        return 1
    fi
    rm -f "$install_log"
    if [[ ! -x "$cargo_bin/garage" ]]; then
        garage_log "cargo install garage succeeded but $cargo_bin/garage is missing"
        return 1
    fi
    GARAGE_BIN="$cargo_bin/garage"
}

garage_cli() { "$GARAGE_BIN" -c "$GARAGE_DIR/garage.toml" "$@"; }

garage_fail() {
    garage_log "$*"
    if [[ -n "$GARAGE_DIR" && -f "$GARAGE_DIR/server.log" ]]; then
        garage_log "last lines of the Garage server log:"
        tail -n 20 "$GARAGE_DIR/server.log" >&2
    fi
    stop_garage
    return 1
}

start_garage() {
    garage_find_or_install || return 1

    GARAGE_DIR="$(mktemp -d /tmp/irsa-garage.XXXXXX)"
    local rpc_port s3_port admin_port rpc_secret admin_token
    rpc_port="$(garage_free_port)"
    s3_port="$(garage_free_port)"
    admin_port="$(garage_free_port)"
    rpc_secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    admin_token="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    # The file holds the RPC secret and admin token: keep it private.
    (
        umask 077
        cat >"$GARAGE_DIR/garage.toml" <<EOF
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
replication_factor = 1
# Throwaway store: no fsync, no compression (CPU is scarce on test machines).
metadata_fsync = false
data_fsync = false
compression_level = "none"

rpc_secret = "$rpc_secret"
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"

[s3_api]
api_bind_addr = "127.0.0.1:$s3_port"
# Clients sign for this region; Garage rejects signatures scoped to any other.
s3_region = "us-east-1"
root_domain = ".s3.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
admin_token = "$admin_token"
EOF
    )

    RUST_LOG="${GARAGE_RUST_LOG:-garage=info}" \
        "$GARAGE_BIN" -c "$GARAGE_DIR/garage.toml" server >"$GARAGE_DIR/server.log" 2>&1 &
    GARAGE_PID=$!

    local tries=0
    until garage_cli status >/dev/null 2>&1; do
        if ! kill -0 "$GARAGE_PID" 2>/dev/null; then
            garage_fail "Garage exited during start-up"
            return 1
        fi
        tries=$((tries + 1))
        if ((tries > 100)); then
            garage_fail "Garage did not answer 'garage status' within 20 s"
            return 1
        fi
        sleep 0.2
    done

    local node_id
    node_id="$(garage_cli node id -q 2>/dev/null | cut -d@ -f1)"
    if [[ -z "$node_id" ]]; then
        garage_fail "could not read Garage's node id"
        return 1
    fi
    garage_cli layout assign -z dc1 -c 1G "$node_id" >/dev/null ||
        { garage_fail "garage layout assign failed"; return 1; }
    garage_cli layout apply --version 1 >/dev/null ||
        { garage_fail "garage layout apply failed"; return 1; }

    local key_info key_id key_secret
    key_info="$(garage_cli key create irsa-gateway 2>&1)" ||
        { garage_fail "garage key create failed: $key_info"; return 1; }
    key_id="$(awk -F': *' '/^Key ID:/ {print $2; exit}' <<<"$key_info")"
    key_secret="$(awk -F': *' '/^Secret key:/ {print $2; exit}' <<<"$key_info")"
    if [[ -z "$key_id" || -z "$key_secret" ]]; then
        garage_fail "could not parse the output of garage key create"
        return 1
    fi
    garage_cli key allow --create-bucket "$key_id" >/dev/null ||
        { garage_fail "garage key allow --create-bucket failed"; return 1; }

    # Ready once the admin API reports the (one-node) cluster healthy.
    tries=0
    until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$admin_port/health" >/dev/null 2>&1; do
        tries=$((tries + 1))
        if ((tries > 100)); then
            garage_fail "Garage's admin /health did not turn healthy within 20 s"
            return 1
        fi
        sleep 0.2
    done

    export IRSA_TEST_S3_UPSTREAM_URL="http://127.0.0.1:$s3_port"
    export IRSA_TEST_S3_UPSTREAM_ACCESS_KEY_ID="$key_id"
    export IRSA_TEST_S3_UPSTREAM_SECRET_ACCESS_KEY="$key_secret"
    export IRSA_TEST_S3_UPSTREAM_REGION="us-east-1"
    export IRSA_TEST_S3_UPSTREAM_ADMIN_URL="http://127.0.0.1:$admin_port"
    export IRSA_TEST_S3_UPSTREAM_ADMIN_TOKEN="$admin_token"
    garage_log "Garage $("$GARAGE_BIN" --version 2>/dev/null | awk '{print $2}' | sed 's/^cargo://') running: S3 API on port $s3_port"
}

stop_garage() {
    # Quiet on purpose: the test runner's summary line stays the last output.
    if [[ -n "$GARAGE_PID" ]]; then
        kill "$GARAGE_PID" >/dev/null 2>&1 || true
        local tries=0
        while kill -0 "$GARAGE_PID" 2>/dev/null && ((tries < 50)); do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -9 "$GARAGE_PID" >/dev/null 2>&1 || true
        wait "$GARAGE_PID" 2>/dev/null || true
        GARAGE_PID=""
    fi
    if [[ -n "$GARAGE_DIR" ]]; then
        rm -rf "$GARAGE_DIR"
        GARAGE_DIR=""
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    trap stop_garage EXIT
    trap 'exit 130' INT TERM
    start_garage
    for var in URL ACCESS_KEY_ID SECRET_ACCESS_KEY REGION ADMIN_URL ADMIN_TOKEN; do
        name="IRSA_TEST_S3_UPSTREAM_$var"
        printf 'export %s=%q\n' "$name" "${!name}"
    done
    garage_log "Garage runs until you press Ctrl-C (data in $GARAGE_DIR)"
    wait "$GARAGE_PID"
fi
