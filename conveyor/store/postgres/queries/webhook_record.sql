-- The outcome of one attempt, fenced: only the dispatcher holding this attempt's lease writes it.
UPDATE conveyor_webhook_deliveries
SET state = %(state)s,
    next_attempt_at = COALESCE(%(next_attempt_at)s, next_attempt_at),
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_status = %(last_status)s,
    last_error = %(last_error)s,
    finished_at = %(finished_at)s
WHERE delivery_id = %(delivery_id)s AND state = 'pending' AND lease_owner = %(owner)s AND attempts = %(attempt)s
