SELECT MIN(run_at) FROM conveyor_jobs WHERE status = 'scheduled'
