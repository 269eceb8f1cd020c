SELECT queue, job_type, status, COUNT(*) FROM conveyor_jobs GROUP BY queue, job_type, status
