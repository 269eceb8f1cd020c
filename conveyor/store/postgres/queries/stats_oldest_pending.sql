SELECT run_at FROM conveyor_jobs WHERE status = 'pending' ORDER BY id LIMIT 1
