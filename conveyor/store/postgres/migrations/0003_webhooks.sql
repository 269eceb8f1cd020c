-- Webhook outbox (PostgreSQL; the same table as SQLite's 0003): one row per callback, written in
-- the same transaction as the job's state change (terminal ones by the trigger below, progress by
-- job_progress.sql) and delivered by the workers' webhook dispatcher.
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

-- A job that ends (finish, cancel, rescue quarantine) and has a webhook gets its terminal callback
-- in the same transaction, stamped with the end's time: completion, or failure (a cancel is a
-- failure with the CANCELLED error), SPEC §5 bodies in SPEC's key order (json_build_object keeps
-- it; jsonb would sort the keys). A trigger, so jobs without a webhook cost nothing: its WHEN is
-- checked without calling it. As on SQLite, only the job a statement ends directly calls back:
-- not jobs ended by a trigger (depth > 0: dependents cancelled with a failed job, children of a
-- cancelled batch, a batch parent its last child finishes), nor new jobs cancelled at enqueue
-- because a dependency had already failed (DEPENDENCY_FAILED).
CREATE FUNCTION conveyor_webhook_terminal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO conveyor_webhook_deliveries
        (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
    VALUES (
        replace(gen_random_uuid()::text, '-', ''),
        NEW.job_id,
        CASE NEW.status WHEN 'completed' THEN 'completed' ELSE 'failed' END,
        NEW.webhook ->> 'url',
        NEW.webhook ->> 'token',
        CASE NEW.status
            WHEN 'completed' THEN json_build_object(
                'phase', 'completed',
                'message', 'Processing completed',
                'data', NEW.results,
                'jobId', NEW.webhook -> 'jobId')
            ELSE json_build_object(
                'phase', 'failed',
                'message', NEW.error -> 'message',
                'error', NEW.error,
                'jobId', NEW.webhook -> 'jobId')
        END::text,
        NEW.finished_at,
        NEW.finished_at);
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_webhook_terminal AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.webhook IS NOT NULL
      AND NEW.status IN ('completed', 'failed', 'cancelled')
      AND OLD.status NOT IN ('completed', 'failed', 'cancelled')
      AND pg_trigger_depth() = 0
      AND (NEW.error ->> 'code') IS DISTINCT FROM 'DEPENDENCY_FAILED')
EXECUTE FUNCTION conveyor_webhook_terminal();
