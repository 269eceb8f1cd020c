-- When the dispatcher should next look: the earliest time an undelivered callback may be tried.
SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_expires_at, next_attempt_at)))
FROM conveyor_webhook_deliveries
WHERE state = 'pending'
