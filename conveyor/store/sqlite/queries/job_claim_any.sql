-- INDEXED BY: without it the planner may take another index and sort every pending row.
-- Nothing when limits exist (one statement fewer per claim): the store then claims the limited way.
UPDATE conveyor_jobs
SET status = 'running', attempt = attempt + 1, worker_id = :worker_id,
    started_at = :now, lease_expires_at = :lease_expires_at
WHERE id IN (
    SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_pending_any
    WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM conveyor_limits)
    ORDER BY priority DESC, id
    LIMIT :limit)
RETURNING id, job_id, job_type, queue, priority, parameters, attempt, max_attempts, timeout,
    checkpoint, metadata, depends_on
