UPDATE conveyor_jobs
SET status = 'pending', run_at = %(now)s, attempt = 0, crashes = 0, results = NULL, error = NULL,
    progress = NULL, started_at = NULL, finished_at = NULL, worker_id = NULL, lease_expires_at = NULL
WHERE job_id = %(job_id)s AND status IN ('failed', 'cancelled')
