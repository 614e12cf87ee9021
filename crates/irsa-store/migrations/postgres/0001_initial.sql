-- irsa store schema (PostgreSQL). Timestamps are Unix seconds; name_key is the
-- ASCII-lowercased name, so IAM names are unique case-insensitively.

CREATE TABLE store_meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

-- One row; every mutation updates it first, which serialises writers.
CREATE TABLE store_lock (
    id      BIGINT PRIMARY KEY NOT NULL,
    counter BIGINT NOT NULL
);
INSERT INTO store_lock (id, counter) VALUES (1, 0);

CREATE TABLE users (
    name_key             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    path                 TEXT COLLATE "C" NOT NULL,
    id                   TEXT COLLATE "C" NOT NULL UNIQUE,
    arn                  TEXT COLLATE "C" NOT NULL,
    created              BIGINT NOT NULL,
    tags                 TEXT COLLATE "C" NOT NULL,
    permissions_boundary TEXT COLLATE "C"
);

CREATE TABLE access_keys (
    id                TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    owner_key         TEXT COLLATE "C" NOT NULL,
    secret_sealed     BYTEA NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    created           BIGINT NOT NULL,
    last_used         BIGINT,
    last_used_service TEXT COLLATE "C",
    last_used_region  TEXT COLLATE "C"
);
CREATE INDEX access_keys_owner ON access_keys (owner_key);

CREATE TABLE roles (
    name_key             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    path                 TEXT COLLATE "C" NOT NULL,
    id                   TEXT COLLATE "C" NOT NULL UNIQUE,
    arn                  TEXT COLLATE "C" NOT NULL,
    trust_policy         TEXT COLLATE "C" NOT NULL,
    max_session_duration BIGINT NOT NULL,
    description          TEXT COLLATE "C",
    permissions_boundary TEXT COLLATE "C",
    tags                 TEXT COLLATE "C" NOT NULL,
    created              BIGINT NOT NULL,
    last_used            BIGINT,
    last_used_region     TEXT COLLATE "C"
);

CREATE TABLE policies (
    name_key       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    path           TEXT COLLATE "C" NOT NULL,
    id             TEXT COLLATE "C" NOT NULL UNIQUE,
    arn            TEXT COLLATE "C" NOT NULL UNIQUE,
    description    TEXT COLLATE "C",
    tags           TEXT COLLATE "C" NOT NULL,
    created        BIGINT NOT NULL,
    updated        BIGINT NOT NULL,
    default_version TEXT COLLATE "C" NOT NULL,
    next_version   BIGINT NOT NULL
);

CREATE TABLE policy_versions (
    policy_arn TEXT COLLATE "C" NOT NULL REFERENCES policies (arn) ON DELETE CASCADE,
    version_id TEXT COLLATE "C" NOT NULL,
    document   TEXT COLLATE "C" NOT NULL,
    created    BIGINT NOT NULL,
    PRIMARY KEY (policy_arn, version_id)
);

-- principal_kind is 'user' or 'role'; principal_key is the name_key.
CREATE TABLE inline_policies (
    principal_kind TEXT COLLATE "C" NOT NULL,
    principal_key  TEXT COLLATE "C" NOT NULL,
    name_key       TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    document       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (principal_kind, principal_key, name_key)
);

CREATE TABLE attachments (
    principal_kind TEXT COLLATE "C" NOT NULL,
    principal_key  TEXT COLLATE "C" NOT NULL,
    policy_arn     TEXT COLLATE "C" NOT NULL,
    policy_name    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (principal_kind, principal_key, policy_arn)
);
CREATE INDEX attachments_policy ON attachments (policy_arn);

CREATE TABLE oidc_providers (
    url_key     TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    url         TEXT COLLATE "C" NOT NULL,
    arn         TEXT COLLATE "C" NOT NULL UNIQUE,
    client_ids  TEXT COLLATE "C" NOT NULL,
    thumbprints TEXT COLLATE "C" NOT NULL,
    tags        TEXT COLLATE "C" NOT NULL,
    created     BIGINT NOT NULL
);

CREATE TABLE server_keys (
    purpose       TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL,
    algorithm     TEXT COLLATE "C" NOT NULL,
    secret_sealed BYTEA NOT NULL,
    public        BYTEA,
    created       BIGINT NOT NULL,
    not_before    BIGINT NOT NULL,
    retire_after  BIGINT,
    expires       BIGINT,
    active        BIGINT NOT NULL,
    PRIMARY KEY (purpose, key_id)
);
