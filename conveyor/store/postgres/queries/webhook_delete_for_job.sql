-- The callbacks of a job that no longer exists: runs right after job_delete.sql in its
-- transaction, so a job that was not deleted (running) keeps its callbacks.
DELETE FROM conveyor_webhook_deliveries
WHERE job_id = %(job_id)s AND NOT EXISTS (SELECT 1 FROM conveyor_jobs WHERE job_id = %(job_id)s)
