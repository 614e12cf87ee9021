-- Account-wide settings (e.g. outbound web identity federation), by name.
CREATE TABLE account_settings (
    name    TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL,
    updated INTEGER NOT NULL
);
