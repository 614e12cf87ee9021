-- irsa store schema (SQLite). Timestamps are Unix seconds; name_key is the
-- ASCII-lowercased name, so IAM names are unique case-insensitively.

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- One row; every mutation updates it first, which serialises writers.
CREATE TABLE store_lock (
    id      INTEGER PRIMARY KEY NOT NULL,
    counter INTEGER NOT NULL
);
INSERT INTO store_lock (id, counter) VALUES (1, 0);

CREATE TABLE users (
    name_key             TEXT PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    path                 TEXT NOT NULL,
    id                   TEXT NOT NULL UNIQUE,
    arn                  TEXT NOT NULL,
    created              INTEGER NOT NULL,
    tags                 TEXT NOT NULL,
    permissions_boundary TEXT
);

CREATE TABLE access_keys (
    id                TEXT PRIMARY KEY NOT NULL,
    owner_key         TEXT NOT NULL,
    secret_sealed     BLOB NOT NULL,
    status            TEXT NOT NULL,
    created           INTEGER NOT NULL,
    last_used         INTEGER,
    last_used_service TEXT,
    last_used_region  TEXT
);
CREATE INDEX access_keys_owner ON access_keys (owner_key);

CREATE TABLE roles (
    name_key             TEXT PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    path                 TEXT NOT NULL,
    id                   TEXT NOT NULL UNIQUE,
    arn                  TEXT NOT NULL,
    trust_policy         TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    description          TEXT,
    permissions_boundary TEXT,
    tags                 TEXT NOT NULL,
    created              INTEGER NOT NULL,
    last_used            INTEGER,
    last_used_region     TEXT
);

CREATE TABLE policies (
    name_key       TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    path           TEXT NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    arn            TEXT NOT NULL UNIQUE,
    description    TEXT,
    tags           TEXT NOT NULL,
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    default_version TEXT NOT NULL,
    next_version   INTEGER NOT NULL
);

CREATE TABLE policy_versions (
    policy_arn TEXT NOT NULL REFERENCES policies (arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    document   TEXT NOT NULL,
    created    INTEGER NOT NULL,
    PRIMARY KEY (policy_arn, version_id)
);

-- principal_kind is 'user' or 'role'; principal_key is the name_key.
CREATE TABLE inline_policies (
    principal_kind TEXT NOT NULL,
    principal_key  TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    name           TEXT NOT NULL,
    document       TEXT NOT NULL,
    PRIMARY KEY (principal_kind, principal_key, name_key)
);

CREATE TABLE attachments (
    principal_kind TEXT NOT NULL,
    principal_key  TEXT NOT NULL,
    policy_arn     TEXT NOT NULL,
    policy_name    TEXT NOT NULL,
    PRIMARY KEY (principal_kind, principal_key, policy_arn)
);
CREATE INDEX attachments_policy ON attachments (policy_arn);

CREATE TABLE oidc_providers (
    url_key     TEXT PRIMARY KEY NOT NULL,
    url         TEXT NOT NULL,
    arn         TEXT NOT NULL UNIQUE,
    client_ids  TEXT NOT NULL,
    thumbprints TEXT NOT NULL,
    tags        TEXT NOT NULL,
    created     INTEGER NOT NULL
);

CREATE TABLE server_keys (
    purpose       TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    algorithm     TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    public        BLOB,
    created       INTEGER NOT NULL,
    not_before    INTEGER NOT NULL,
    retire_after  INTEGER,
    expires       INTEGER,
    active        INTEGER NOT NULL,
    PRIMARY KEY (purpose, key_id)
);
