UPDATE conveyor_jobs INDEXED BY conveyor_jobs_running SET lease_expires_at = :lease_expires_at
WHERE status = 'running' AND worker_id = :worker_id
RETURNING job_id
