SELECT id, timestamp, level, message FROM conveyor_job_logs
WHERE job_id = :job_id AND id > :after
ORDER BY id
LIMIT :limit
