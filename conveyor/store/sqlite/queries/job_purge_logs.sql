DELETE FROM conveyor_job_logs WHERE job_id IN (
    SELECT job_id FROM conveyor_jobs
    WHERE finished_at < :before AND status IN (SELECT value FROM json_each(:statuses)))
