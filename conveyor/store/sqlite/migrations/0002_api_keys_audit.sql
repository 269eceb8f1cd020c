-- API keys and the operator audit log (see conveyor/apikeys.py, conveyor/admin.py, conveyor/api).
-- Only a SHA-256 of each key is stored; the key itself is shown once, when it is created.
CREATE TABLE conveyor_api_keys (
    id           INTEGER PRIMARY KEY,
    key_id       TEXT    NOT NULL UNIQUE,   -- public prefix of the key, shown in listings
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,          -- read | write | admin
    key_hash     TEXT    NOT NULL UNIQUE,   -- hex SHA-256 of the whole key
    created_at   REAL    NOT NULL,
    last_used_at REAL,
    revoked_at   REAL
);
-- A name identifies one active key (revoked keys keep their name for the record).
CREATE UNIQUE INDEX conveyor_api_keys_active_name ON conveyor_api_keys (name) WHERE revoked_at IS NULL;

-- Who did what, when, to which jobs: every operator action from the API, CLI or dashboard.
CREATE TABLE conveyor_audit_log (
    id      INTEGER PRIMARY KEY,            -- order, and the list cursor
    at      REAL    NOT NULL,
    actor   TEXT    NOT NULL,               -- the API key's name, or "cli"
    action  TEXT    NOT NULL,               -- job.cancel, job.retry, job.delete, jobs.purge, key.create, …
    job_ids TEXT    NOT NULL DEFAULT '[]',  -- JSON array
    details TEXT    NOT NULL DEFAULT '{}'   -- JSON object
);
CREATE INDEX conveyor_audit_log_actor ON conveyor_audit_log (actor, id);
