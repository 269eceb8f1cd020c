SELECT queue, MIN(run_at) FROM conveyor_jobs WHERE status = 'pending' GROUP BY queue
