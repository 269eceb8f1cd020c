-- Claim up to :limit pending jobs of the given queues, filling from the first queue listed, then
-- the next (like SQLite's per-queue claims), each by priority then insertion order. SKIP LOCKED
-- inside each queue's scan lets concurrent workers claim disjoint batches without waiting. Nothing
-- when limits exist: the limited path claims then (limits_lock.sql).
UPDATE conveyor_jobs AS j
SET status = 'running', attempt = j.attempt + 1, worker_id = %(worker_id)s,
    started_at = %(now)s, lease_expires_at = %(lease_expires_at)s
FROM (
    SELECT c.id
    FROM unnest(%(queues)s::text[]) WITH ORDINALITY AS q (name, pos)
    CROSS JOIN LATERAL (
        SELECT id, priority FROM conveyor_jobs
        WHERE status = 'pending' AND queue = q.name AND NOT EXISTS (SELECT 1 FROM conveyor_limits)
        ORDER BY priority DESC, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) AS c
    ORDER BY q.pos, c.priority DESC, c.id
    LIMIT %(limit)s
) AS picked
WHERE j.id = picked.id
RETURNING j.id, j.job_id, j.job_type, j.queue, j.priority, j.parameters::text, j.attempt, j.max_attempts,
    j.timeout, j.checkpoint::text, j.metadata::text, j.depends_on::text
