UPDATE conveyor_jobs
SET status = 'running', attempt = attempt + 1, worker_id = :worker_id,
    started_at = :now, lease_expires_at = :lease_expires_at
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'pending'
RETURNING id, job_id, job_type, queue, priority, parameters, attempt, max_attempts, timeout,
    checkpoint, metadata, depends_on
