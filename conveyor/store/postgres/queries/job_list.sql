SELECT id, job_id, job_type, queue, status, priority, parameters, progress, results, error, attempt,
    max_attempts, crashes, max_crashes, timeout, checkpoint, created_at, run_at, started_at,
    finished_at, worker_id, lease_expires_at, parent_id, depends_on, idempotency_key, webhook, metadata
FROM conveyor_jobs
WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(job_type)s::text IS NULL OR job_type = %(job_type)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(parent_id)s::text IS NULL OR parent_id = %(parent_id)s::text)
  AND id < COALESCE(%(cursor)s::bigint, 9223372036854775807)  -- a range the index can seek to, on any page
ORDER BY id DESC
LIMIT %(limit)s
