-- The longest-waiting pending job: the first entry of each priority (0-10) in the pending index,
-- eleven seeks whatever the backlog.
SELECT run_at FROM conveyor_jobs WHERE id = (
    SELECT MIN(first.id) FROM generate_series(0, 10) AS p (priority)
    CROSS JOIN LATERAL (
        SELECT id FROM conveyor_jobs
        WHERE status = 'pending' AND priority = p.priority ORDER BY priority DESC, id LIMIT 1
    ) AS first)
