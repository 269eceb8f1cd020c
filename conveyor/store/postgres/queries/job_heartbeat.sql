UPDATE conveyor_jobs SET lease_expires_at = %(lease_expires_at)s
WHERE status = 'running' AND worker_id = %(worker_id)s
RETURNING job_id
