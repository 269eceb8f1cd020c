-- Conveyor schema v1 (PostgreSQL). The same tables, columns and indexes as SQLite's 0001:
-- times are epoch seconds (double precision, so the Python API reads back exactly the floats it
-- wrote); JSON columns are `json` (kept verbatim, like SQLite's TEXT: same key order, and "\u0000"
-- is accepted as on SQLite, which jsonb would reject).
CREATE TABLE conveyor_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order: FIFO tie-break, list cursor
    job_id           text             NOT NULL UNIQUE,
    job_type         text             NOT NULL,
    queue            text             NOT NULL,
    status           text             NOT NULL,
    priority         integer          NOT NULL,
    parameters       json             NOT NULL,
    progress         json,
    results          json,
    error            json,
    attempt          integer          NOT NULL DEFAULT 0,
    max_attempts     integer          NOT NULL,
    crashes          integer          NOT NULL DEFAULT 0,
    max_crashes      integer          NOT NULL,
    timeout          double precision,
    checkpoint       json,
    created_at       double precision NOT NULL,
    run_at           double precision NOT NULL,
    started_at       double precision,
    finished_at      double precision,
    worker_id        text,
    lease_expires_at double precision,
    parent_id        text,
    depends_on       json             NOT NULL DEFAULT '[]',
    idempotency_key  text,
    webhook          json,
    metadata         json             NOT NULL DEFAULT '{}'
) WITH (
    -- A queue table churns: vacuum it early so claims do not wade through dead index entries.
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
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
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id    text             NOT NULL,
    timestamp double precision NOT NULL,
    level     text             NOT NULL,
    message   text             NOT NULL
);
CREATE INDEX conveyor_job_logs_job ON conveyor_job_logs (job_id, id);

CREATE TABLE conveyor_workers (
    worker_id    text PRIMARY KEY,
    info         json             NOT NULL,
    started_at   double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    stopped_at   double precision
);
