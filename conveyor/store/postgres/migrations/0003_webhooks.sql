-- Webhook outbox (PostgreSQL; the same table as SQLite's 0003): one row per callback, written in
-- the same transaction as the job's state change (job_finish.sql, job_cancel.sql,
-- job_rescue_expired.sql, job_progress.sql) and delivered by the workers' webhook dispatcher.
CREATE TABLE conveyor_webhook_deliveries (
    id               bigserial        PRIMARY KEY,        -- order of the callbacks of one job
    delivery_id      text             NOT NULL UNIQUE,    -- stable across retries: receivers dedupe on it
    job_id           text             NOT NULL,
    event            text             NOT NULL,           -- processing | completed | failed (the payload's phase)
    url              text             NOT NULL,
    token            text,
    payload          text             NOT NULL,           -- the exact body sent (and signed)
    state            text             NOT NULL DEFAULT 'pending',  -- pending | delivered | dead
    attempts         integer          NOT NULL DEFAULT 0, -- claims so far (a claim is an attempt)
    created_at       double precision NOT NULL,
    next_attempt_at  double precision NOT NULL,
    lease_owner      text,                                -- the dispatcher sending it right now
    lease_expires_at double precision,
    last_attempt_at  double precision,
    last_status      integer,                             -- HTTP status of the last attempt, if any
    last_error       text,
    finished_at      double precision                     -- delivered or given up
);

-- The dispatcher's scan: only undelivered rows.
CREATE INDEX conveyor_webhook_pending ON conveyor_webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- Per-job order: the job's delivery list, its previous and next callbacks.
CREATE INDEX conveyor_webhook_job ON conveyor_webhook_deliveries (job_id, id);
-- The head-of-line check: does an earlier callback of this job still wait?
CREATE INDEX conveyor_webhook_pending_job ON conveyor_webhook_deliveries (job_id, id) WHERE state = 'pending';
-- Coalescing: at most one progress callback per job that no one has tried to send yet; newer
-- progress replaces its payload (job_progress.sql upserts on this index).
CREATE UNIQUE INDEX conveyor_webhook_open_progress ON conveyor_webhook_deliveries (job_id)
    WHERE event = 'processing' AND state = 'pending' AND attempts = 0;

-- The SPEC §5 body of a terminal callback: completion, or failure (a cancel is a failure with the
-- CANCELLED error). json_build_object keeps SPEC's key order (jsonb would sort the keys). One
-- definition for the three statements that write terminal callbacks.
CREATE FUNCTION conveyor_webhook_terminal_payload(status text, results json, error json, webhook json)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'completed' THEN json_build_object(
            'phase', 'completed',
            'message', 'Processing completed',
            'data', results,
            'jobId', webhook -> 'jobId')
        ELSE json_build_object(
            'phase', 'failed',
            'message', error -> 'message',
            'error', error,
            'jobId', webhook -> 'jobId')
    END::text
$$;
