-- Fenced, many at once: only the worker holding an attempt's lease can move its job out of
-- running. One row of the arrays per transition; RETURNING says which took effect, and whether
-- the triggers may have released other jobs (dependents, held batch children). A job now
-- terminal that has a webhook gets its callback from a trigger (migrations/0003).
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
RETURNING j.job_id, j.has_dependents OR j.parent_id IS NOT NULL AS cascades
