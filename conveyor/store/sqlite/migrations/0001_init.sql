-- Conveyor schema v1 (SQLite). Times are epoch seconds (REAL); JSON columns hold TEXT.
CREATE TABLE conveyor_jobs (
    id               INTEGER PRIMARY KEY,            -- insertion order: FIFO tie-break and list cursor
    job_id           TEXT    NOT NULL UNIQUE,
    job_type         TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    parameters       TEXT    NOT NULL,
    progress         TEXT,
    results          TEXT,
    error            TEXT,
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    crashes          INTEGER NOT NULL DEFAULT 0,
    max_crashes      INTEGER NOT NULL,
    timeout          REAL,
    checkpoint       TEXT,
    created_at       REAL    NOT NULL,
    run_at           REAL    NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    worker_id        TEXT,
    lease_expires_at REAL,
    parent_id        TEXT,
    depends_on       TEXT    NOT NULL DEFAULT '[]',
    idempotency_key  TEXT,
    webhook          TEXT,
    metadata         TEXT    NOT NULL DEFAULT '{}'
);

-- The claim path reads only these partial indexes, so finished jobs never slow it down.
CREATE INDEX conveyor_jobs_pending_queue ON conveyor_jobs (queue, priority DESC, id) WHERE status = 'pending';
CREATE INDEX conveyor_jobs_pending_any ON conveyor_jobs (priority DESC, id) WHERE status = 'pending';
CREATE INDEX conveyor_jobs_scheduled ON conveyor_jobs (run_at) WHERE status = 'scheduled';
CREATE INDEX conveyor_jobs_running ON conveyor_jobs (worker_id, lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX conveyor_jobs_idempotency ON conveyor_jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status IN ('waiting', 'scheduled', 'pending', 'running');
CREATE INDEX conveyor_jobs_status ON conveyor_jobs (status, id);
CREATE INDEX conveyor_jobs_finished ON conveyor_jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX conveyor_jobs_parent ON conveyor_jobs (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE conveyor_job_logs (
    id        INTEGER PRIMARY KEY,
    job_id    TEXT NOT NULL,
    timestamp REAL NOT NULL,
    level     TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX conveyor_job_logs_job ON conveyor_job_logs (job_id, id);

CREATE TABLE conveyor_workers (
    worker_id    TEXT PRIMARY KEY,
    info         TEXT NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    stopped_at   REAL
);
