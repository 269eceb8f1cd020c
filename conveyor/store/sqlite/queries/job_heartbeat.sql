UPDATE conveyor_jobs SET lease_expires_at = :lease_expires_at
WHERE status = 'running' AND worker_id = :worker_id
RETURNING job_id
