-- API keys and the operator audit log (PostgreSQL; the same tables as SQLite's 0002).
-- Only a SHA-256 of each key is stored; the key itself is shown once, when it is created.
CREATE TABLE conveyor_api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id       text             NOT NULL UNIQUE,  -- public prefix of the key, shown in listings
    name         text             NOT NULL,
    scope        text             NOT NULL,         -- read | write | admin
    key_hash     text             NOT NULL UNIQUE,  -- hex SHA-256 of the whole key
    created_at   double precision NOT NULL,
    last_used_at double precision,
    revoked_at   double precision
);
-- A name identifies one active key (revoked keys keep their name for the record).
CREATE UNIQUE INDEX conveyor_api_keys_active_name ON conveyor_api_keys (name) WHERE revoked_at IS NULL;

-- Who did what, when, to which jobs: every operator action from the API, CLI or dashboard.
CREATE TABLE conveyor_audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- order, and the list cursor
    at      double precision NOT NULL,
    actor   text             NOT NULL,               -- the API key's name, or "cli"
    action  text             NOT NULL,               -- job.cancel, job.retry, job.delete, jobs.purge, key.create, …
    job_ids json             NOT NULL DEFAULT '[]',  -- JSON array
    details json             NOT NULL DEFAULT '{}'   -- JSON object
);
CREATE INDEX conveyor_audit_log_actor ON conveyor_audit_log (actor, id);
