-- Webhook outbox: one row per callback, written in the same transaction as the job's state change
-- (see queries/webhook_enqueue_*.sql) and delivered by the workers' webhook dispatcher.
CREATE TABLE conveyor_webhook_deliveries (
    id               INTEGER PRIMARY KEY,            -- order of the callbacks of one job
    delivery_id      TEXT    NOT NULL UNIQUE,        -- stable across retries: receivers dedupe on it
    job_id           TEXT    NOT NULL,
    event            TEXT    NOT NULL,               -- processing | completed | failed (the payload's phase)
    url              TEXT    NOT NULL,
    token            TEXT,
    payload          TEXT    NOT NULL,               -- the exact body sent (and signed)
    state            TEXT    NOT NULL DEFAULT 'pending',  -- pending | delivered | dead
    attempts         INTEGER NOT NULL DEFAULT 0,     -- claims so far (a claim is an attempt)
    created_at       REAL    NOT NULL,
    next_attempt_at  REAL    NOT NULL,
    lease_owner      TEXT,                           -- the dispatcher sending it right now
    lease_expires_at REAL,
    last_attempt_at  REAL,
    last_status      INTEGER,                        -- HTTP status of the last attempt, if any
    last_error       TEXT,
    finished_at      REAL                            -- delivered or given up
);

-- The dispatcher's scan: only undelivered rows.
CREATE INDEX conveyor_webhook_pending ON conveyor_webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- Per-job order: the job's delivery list, its previous and next callbacks.
CREATE INDEX conveyor_webhook_job ON conveyor_webhook_deliveries (job_id, id);
-- The head-of-line check: does an earlier callback of this job still wait?
CREATE INDEX conveyor_webhook_pending_job ON conveyor_webhook_deliveries (job_id, id) WHERE state = 'pending';
-- Coalescing: at most one progress callback per job that no one has tried to send yet; newer
-- progress replaces its payload (webhook_enqueue_progress.sql upserts on this index).
CREATE UNIQUE INDEX conveyor_webhook_open_progress ON conveyor_webhook_deliveries (job_id)
    WHERE event = 'processing' AND state = 'pending' AND attempts = 0;
