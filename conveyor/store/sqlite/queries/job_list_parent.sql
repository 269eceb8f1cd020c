-- job_list.sql for one parent's children (a batch page): the parent index, walked newest first.
SELECT id, job_id, job_type, queue, status, priority, parameters, progress, results, error, attempt,
    max_attempts, crashes, max_crashes, timeout, checkpoint, created_at, run_at, started_at,
    finished_at, worker_id, lease_expires_at, parent_id, depends_on, idempotency_key, webhook, metadata
FROM conveyor_jobs INDEXED BY conveyor_jobs_parent
WHERE parent_id = :parent_id
  AND (:status IS NULL OR status = :status)
  AND (:job_type IS NULL OR job_type = :job_type)
  AND (:queue IS NULL OR queue = :queue)
  AND id < COALESCE(:cursor, 9223372036854775807)  -- a range the index can seek to, on any page
ORDER BY id DESC
LIMIT :limit
