DELETE FROM conveyor_job_logs WHERE job_id IN (
    SELECT job_id FROM conveyor_jobs
    WHERE finished_at < %(before)s AND status = ANY(%(statuses)s::text[]))
