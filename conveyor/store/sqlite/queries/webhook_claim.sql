-- Lease the callbacks webhook_claimable.sql found, re-checking what another dispatcher may have
-- changed since (claimed, recorded, delivered); a head of line stays the head, since a job's
-- callbacks leave 'pending' only in order. Each claim counts an attempt.
UPDATE conveyor_webhook_deliveries
SET attempts = attempts + 1,
    lease_owner = :owner,
    lease_expires_at = :lease_expires_at,
    last_attempt_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
  AND state = 'pending'
  AND next_attempt_at <= :now
  AND (lease_expires_at IS NULL OR lease_expires_at <= :now)
RETURNING delivery_id, job_id, event, url, token, payload, state, attempts, created_at,
    next_attempt_at, last_attempt_at, last_status, last_error, finished_at, id
