-- Progress of the running attempt (fenced) and, for a job with a webhook, its callback in the
-- same statement (SPEC §5 progress payload), coalesced: while the job's latest progress callback
-- has not been tried yet, the newer progress replaces its payload instead of queueing another
-- one. Never when a later callback already follows that one (a retried job's new run while its
-- old run's callbacks still wait): that would reorder, so this progress sample is dropped
-- instead. Progress callbacks are samples; terminal callbacks are never dropped.
WITH updated AS (
    UPDATE conveyor_jobs SET progress = %(progress)s::json
    WHERE job_id = %(job_id)s AND status = 'running' AND attempt = %(attempt)s AND worker_id = %(worker_id)s
    RETURNING job_id, webhook
), callback AS (
    INSERT INTO conveyor_webhook_deliveries AS d
        (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
    SELECT replace(gen_random_uuid()::text, '-', ''), u.job_id, 'processing',
        u.webhook ->> 'url', u.webhook ->> 'token',
        json_build_object(
            'phase', 'processing',
            'progress', %(progress)s::json -> 'percent',
            'message', %(progress)s::json -> 'message',
            'process', json_build_object('id', u.job_id),
            'jobId', u.webhook -> 'jobId')::text,
        %(now)s, %(now)s
    FROM updated AS u
    WHERE u.webhook IS NOT NULL
    ON CONFLICT (job_id) WHERE event = 'processing' AND state = 'pending' AND attempts = 0
    DO UPDATE SET payload = excluded.payload
    WHERE NOT EXISTS (
        SELECT 1 FROM conveyor_webhook_deliveries AS later
        WHERE later.job_id = excluded.job_id AND later.id > d.id)
)
SELECT count(*) FROM updated
