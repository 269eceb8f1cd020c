SELECT timestamp, level, message FROM conveyor_job_logs WHERE job_id = ? ORDER BY id LIMIT ?
