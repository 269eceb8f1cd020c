SELECT status, COUNT(*) FROM conveyor_jobs WHERE finished_at >= :since GROUP BY status
