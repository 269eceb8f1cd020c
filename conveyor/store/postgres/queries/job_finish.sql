-- Fenced, many at once: only the worker holding an attempt's lease can move its job out of
-- running. One row of the arrays per transition; the result names the ones that took effect.
-- The jobs now terminal that have a webhook get their callback (SPEC §5) in the same statement
-- (one per job, so its callbacks keep their order); jobs without one cost next to nothing.
-- `cascades`: the triggers may have released other jobs (dependents, held batch children).
WITH done AS (
    UPDATE conveyor_jobs AS j
    SET status = t.status,
        results = t.results::json,
        error = COALESCE(t.error::json, j.error),
        run_at = COALESCE(t.run_at, j.run_at),
        finished_at = t.finished_at,
        attempt = j.attempt - t.release,
        started_at = CASE WHEN t.release = 1 THEN NULL ELSE j.started_at END,
        worker_id = NULL,
        lease_expires_at = NULL
    FROM unnest(
        %(job_id)s::text[], %(attempt)s::integer[], %(worker_id)s::text[], %(status)s::text[],
        %(results)s::text[], %(error)s::text[], %(run_at)s::double precision[],
        %(finished_at)s::double precision[], %(release)s::integer[]
    ) AS t (job_id, attempt, worker_id, status, results, error, run_at, finished_at, release)
    WHERE j.job_id = t.job_id AND j.status = 'running' AND j.attempt = t.attempt AND j.worker_id = t.worker_id
    RETURNING j.job_id, j.status, j.results, j.error, j.webhook,
        j.has_dependents OR j.parent_id IS NOT NULL AS cascades
), callbacks AS (
    INSERT INTO conveyor_webhook_deliveries
        (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
    SELECT replace(gen_random_uuid()::text, '-', ''), d.job_id,
        CASE d.status WHEN 'completed' THEN 'completed' ELSE 'failed' END,
        d.webhook ->> 'url', d.webhook ->> 'token',
        conveyor_webhook_terminal_payload(d.status, d.results, d.error, d.webhook), %(now)s, %(now)s
    FROM done AS d
    WHERE d.webhook IS NOT NULL AND d.status IN ('completed', 'failed', 'cancelled')
)
SELECT job_id, cascades FROM done
