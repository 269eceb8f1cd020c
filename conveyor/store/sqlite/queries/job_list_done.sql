-- job_list.sql for one finished status: its partial index, walked newest first, instead of every
-- row of the table when that status is rare.
SELECT id, job_id, job_type, queue, status, priority, parameters, progress, results, error, attempt,
    max_attempts, crashes, max_crashes, timeout, checkpoint, created_at, run_at, started_at,
    finished_at, worker_id, lease_expires_at, parent_id, depends_on, idempotency_key, webhook, metadata
FROM conveyor_jobs INDEXED BY conveyor_jobs_done_status
WHERE status = :status AND status IN ('completed', 'failed', 'cancelled')
  AND (:job_type IS NULL OR job_type = :job_type)
  AND (:queue IS NULL OR queue = :queue)
  AND (:parent_id IS NULL OR parent_id = :parent_id)
  AND id < COALESCE(:cursor, 9223372036854775807)  -- a range the index can seek to, on any page
ORDER BY id DESC
LIMIT :limit
