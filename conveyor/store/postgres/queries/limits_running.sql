SELECT queue, job_type, COUNT(*) FROM conveyor_jobs WHERE status = 'running' GROUP BY queue, job_type
