SELECT delivery_id, job_id, event, url, token, payload, state, attempts, created_at,
    next_attempt_at, last_attempt_at, last_status, last_error, finished_at, id
FROM conveyor_webhook_deliveries
WHERE job_id = %(job_id)s
ORDER BY id
