-- Outbox row for a progress write (SPEC §5 progress payload), coalesced: while the job's latest
-- progress callback has not been tried yet, the newer progress replaces its payload instead of
-- queueing another one. Never when a later callback already follows that one (a retried job's new
-- run while its old run's callbacks still wait): that would reorder, so this progress sample is
-- dropped instead. Progress callbacks are samples; terminal callbacks are never dropped.
INSERT INTO conveyor_webhook_deliveries
    (delivery_id, job_id, event, url, token, payload, created_at, next_attempt_at)
SELECT
    lower(hex(randomblob(16))),
    j.job_id,
    'processing',
    json_extract(j.webhook, '$.url'),
    json_extract(j.webhook, '$.token'),
    json_object(
        'phase', 'processing',
        'progress', json_extract(:progress, '$.percent'),
        'message', json_extract(:progress, '$.message'),
        'process', json_object('id', j.job_id),
        'jobId', json_extract(j.webhook, '$.jobId')),
    :now,
    :now
FROM conveyor_jobs AS j
WHERE j.job_id = :job_id AND j.webhook IS NOT NULL
ON CONFLICT (job_id) WHERE event = 'processing' AND state = 'pending' AND attempts = 0
DO UPDATE SET payload = excluded.payload
WHERE NOT EXISTS (
    SELECT 1 FROM conveyor_webhook_deliveries AS later
    WHERE later.job_id = excluded.job_id AND later.id > conveyor_webhook_deliveries.id)
