SELECT id, timestamp, level, message FROM conveyor_job_logs
WHERE job_id = %(job_id)s AND id > %(after)s
ORDER BY id
LIMIT %(limit)s
