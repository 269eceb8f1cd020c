-- Fenced: only the worker holding this attempt's lease can move the job out of running.
UPDATE conveyor_jobs
SET status = :status,
    results = :results,
    error = COALESCE(:error, error),
    run_at = COALESCE(:run_at, run_at),
    finished_at = :finished_at,
    attempt = attempt - :release,
    started_at = CASE WHEN :release THEN NULL ELSE started_at END,
    worker_id = NULL,
    lease_expires_at = NULL
WHERE job_id = :job_id AND status = 'running' AND attempt = :attempt AND worker_id = :worker_id
