-- The callbacks of the jobs job_purge.sql is about to delete (run first, same parameters).
DELETE FROM conveyor_webhook_deliveries WHERE job_id IN (
    SELECT job_id FROM conveyor_jobs
    WHERE finished_at < %(before)s AND status = ANY(%(statuses)s::text[]))
