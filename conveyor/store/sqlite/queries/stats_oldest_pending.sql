-- The longest-waiting pending job: the first entry of each priority (0-10) in the pending index,
-- eleven seeks whatever the backlog.
SELECT run_at FROM conveyor_jobs WHERE id = (
    SELECT MIN((SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_pending_any
                WHERE status = 'pending' AND priority = p.value ORDER BY id LIMIT 1))
    FROM json_each('[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]') AS p)
