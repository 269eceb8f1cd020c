-- Fenced, many at once: only the worker holding an attempt's lease can move its job out of
-- running. :rows is one JSON array, [[id, job_id, attempt, worker_id, status, results, error,
-- run_at, release], …] (results and error as JSON text inside a JSON string): json.dumps writes
-- it in C, where nine array parameters cost the client ≈ 10 µs per job in psycopg's per-element
-- array quoting. RETURNING says which took effect, and whether the triggers may have released
-- other jobs (dependents, held batch children). A job now terminal that has a webhook gets its
-- callback from a trigger (migrations/0003).
UPDATE conveyor_jobs AS j
SET status = t.status,
    results = t.results::json,
    error = COALESCE(t.error::json, j.error),
    run_at = COALESCE(t.run_at, j.run_at),
    finished_at = CASE WHEN t.status IN ('completed', 'failed', 'cancelled') THEN %(now)s::double precision END,
    attempt = j.attempt - t.release,
    started_at = CASE WHEN t.release = 1 THEN NULL ELSE j.started_at END,
    worker_id = NULL,
    lease_expires_at = NULL
FROM (
    SELECT (e ->> 0)::bigint AS id, e ->> 1 AS job_id, (e ->> 2)::integer AS attempt, e ->> 3 AS worker_id,
           e ->> 4 AS status, e ->> 5 AS results, e ->> 6 AS error, (e ->> 7)::double precision AS run_at,
           (e ->> 8)::integer AS release
    FROM jsonb_array_elements(%(rows)s::jsonb) AS e
) AS t
WHERE j.id = t.id AND j.job_id = t.job_id AND j.status = 'running' AND j.attempt = t.attempt
  AND j.worker_id = t.worker_id
RETURNING j.job_id, j.has_dependents OR j.parent_id IS NOT NULL AS cascades
