-- Account-wide settings (e.g. outbound web identity federation), by name.
CREATE TABLE account_settings (
    name    TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL,
    updated BIGINT NOT NULL
);
