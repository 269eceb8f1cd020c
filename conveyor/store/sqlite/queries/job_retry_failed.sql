UPDATE conveyor_jobs
SET status = 'pending', run_at = :now, attempt = 0, crashes = 0, results = NULL, error = NULL,
    progress = NULL, started_at = NULL, finished_at = NULL, worker_id = NULL, lease_expires_at = NULL
WHERE status = 'failed'
  AND status IN ('completed', 'failed', 'cancelled')  -- the partial index's own term: the planner then uses it
  AND (:job_type IS NULL OR job_type = :job_type)
  AND (:queue IS NULL OR queue = :queue)
