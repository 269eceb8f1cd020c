-- Fenced, many at once: only the worker holding an attempt's lease can move its job out of
-- running. :rows is [[id, job_id, attempt, worker_id, status, results, error, run_at, release], …]
-- (results and error as JSON text inside a JSON string), walked in C by one statement: a third
-- cheaper per job than one UPDATE per transition. `id` (the rowid) finds each row; the rest of
-- the token fences it. RETURNING says which took effect, and which of those have a webhook
-- (most jobs have none: their finish needs no outbox statement).
UPDATE conveyor_jobs
SET status = json_extract(t.value, '$[4]'),
    results = json_extract(t.value, '$[5]'),
    error = COALESCE(json_extract(t.value, '$[6]'), error),
    run_at = COALESCE(json_extract(t.value, '$[7]'), run_at),
    finished_at = CASE WHEN json_extract(t.value, '$[4]') IN ('completed', 'failed', 'cancelled')
                       THEN :now END,
    attempt = attempt - json_extract(t.value, '$[8]'),
    started_at = CASE WHEN json_extract(t.value, '$[8]') THEN NULL ELSE started_at END,
    worker_id = NULL,
    lease_expires_at = NULL
FROM json_each(:rows) AS t
WHERE conveyor_jobs.id = json_extract(t.value, '$[0]')
  AND conveyor_jobs.job_id = json_extract(t.value, '$[1]')
  AND conveyor_jobs.status = 'running'
  AND conveyor_jobs.attempt = json_extract(t.value, '$[2]')
  AND conveyor_jobs.worker_id = json_extract(t.value, '$[3]')
RETURNING job_id, webhook IS NOT NULL
