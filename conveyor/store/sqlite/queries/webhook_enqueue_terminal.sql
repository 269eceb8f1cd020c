-- Outbox rows for jobs that just reached a terminal status (SPEC §5 completion / failure payloads;
-- a cancel is a failure with the CANCELLED error). Runs in the state change's transaction; jobs
-- without a webhook cost one index probe and insert nothing.
INSERT INTO conveyor_webhook_deliveries
    (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
SELECT
    lower(hex(randomblob(16))),
    j.job_id,
    CASE j.status WHEN 'completed' THEN 'completed' ELSE 'failed' END,
    json_extract(j.webhook, '$.url'),
    json_extract(j.webhook, '$.token'),
    CASE j.status
        WHEN 'completed' THEN json_object(
            'phase', 'completed',
            'message', 'Processing completed',
            'data', json(j.results),
            'jobId', json_extract(j.webhook, '$.jobId'))
        ELSE json_object(
            'phase', 'failed',
            'message', json_extract(j.error, '$.message'),
            'error', json(j.error),
            'jobId', json_extract(j.webhook, '$.jobId'))
    END,
    :now,
    :now
FROM json_each(:job_ids) AS ids
JOIN conveyor_jobs AS j ON j.job_id = ids.value
WHERE j.webhook IS NOT NULL AND j.status IN ('completed', 'failed', 'cancelled')
ORDER BY ids.key
