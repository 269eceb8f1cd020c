DELETE FROM conveyor_jobs
WHERE finished_at < :before AND status IN (SELECT value FROM json_each(:statuses))
