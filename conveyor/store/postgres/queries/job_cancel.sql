-- `cascades`: the triggers may have cancelled other jobs too (dependents, batch children). A job
-- with a webhook gets its failure callback from a trigger (migrations/0003), in this transaction.
UPDATE conveyor_jobs
SET status = 'cancelled', finished_at = %(now)s,
    error = json_build_object('code', 'CANCELLED', 'message', %(reason)s::text, 'details', json_build_object()),
    lease_expires_at = NULL
WHERE job_id = %(job_id)s AND status IN ('waiting', 'scheduled', 'pending', 'running')
RETURNING job_id, has_dependents OR parent_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = conveyor_jobs.job_id) AS cascades
