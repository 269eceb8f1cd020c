SELECT queue, job_type, COUNT(*) FROM conveyor_jobs INDEXED BY conveyor_jobs_running
WHERE status = 'running' GROUP BY queue, job_type
