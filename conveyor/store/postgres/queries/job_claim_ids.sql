UPDATE conveyor_jobs
SET status = 'running', attempt = attempt + 1, worker_id = %(worker_id)s,
    started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
WHERE id = ANY(%(ids)s::bigint[]) AND status = 'pending'
RETURNING id, job_id, job_type, queue, priority, parameters::text, attempt, max_attempts, timeout,
    checkpoint::text, metadata::text, depends_on::text
