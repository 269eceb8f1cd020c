SELECT COALESCE(MAX(id), 0) FROM conveyor_jobs
