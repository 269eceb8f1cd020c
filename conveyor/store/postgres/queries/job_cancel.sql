-- Cancel an unfinished job and, if it has a webhook, write its failure callback (SPEC §5, the
-- CANCELLED error) in the same statement: only a cancel that took effect calls back.
-- `cascades`: the triggers may have cancelled other jobs too (dependents, batch children).
WITH cancelled AS (
    UPDATE conveyor_jobs
    SET status = 'cancelled', finished_at = %(now)s,
        error = json_build_object('code', 'CANCELLED', 'message', %(reason)s::text, 'details', json_build_object()),
        lease_expires_at = NULL
    WHERE job_id = %(job_id)s AND status IN ('waiting', 'scheduled', 'pending', 'running')
    RETURNING job_id, status, results, error, webhook,
        has_dependents OR parent_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = conveyor_jobs.job_id) AS cascades
), callback AS (
    INSERT INTO conveyor_webhook_deliveries
        (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
    SELECT replace(gen_random_uuid()::text, '-', ''), c.job_id, 'failed', c.webhook ->> 'url',
        c.webhook ->> 'token', conveyor_webhook_terminal_payload(c.status, c.results, c.error, c.webhook),
        %(now)s, %(now)s
    FROM cancelled AS c
    WHERE c.webhook IS NOT NULL
)
SELECT job_id, cascades FROM cancelled
