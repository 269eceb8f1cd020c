SELECT MIN(run_at) FROM conveyor_jobs INDEXED BY conveyor_jobs_scheduled WHERE status = 'scheduled'
