SELECT status, COUNT(*) FROM conveyor_jobs WHERE finished_at >= %(since)s GROUP BY status
