-- Claim up to :limit pending jobs of any queue, by priority then insertion order, unless limits
-- exist (then nothing: the limited path claims, see limits_lock.sql).
UPDATE conveyor_jobs AS j
SET status = 'running', attempt = j.attempt + 1, worker_id = %(worker_id)s,
    started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
FROM (
    SELECT id FROM conveyor_jobs
    WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM conveyor_limits)
    ORDER BY priority DESC, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) AS picked
WHERE j.id = picked.id
RETURNING j.id, j.job_id, j.job_type, j.queue, j.priority, j.parameters::text, j.attempt, j.max_attempts,
    j.timeout, j.checkpoint::text, j.metadata::text, j.depends_on::text
