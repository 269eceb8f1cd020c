-- The outcome of one attempt, fenced: only the dispatcher holding this attempt's lease writes it.
UPDATE conveyor_webhook_deliveries
SET state = :state,
    next_attempt_at = COALESCE(:next_attempt_at, next_attempt_at),
    lease_owner = NULL,
    lease_expires_at = NULL,
    last_status = :last_status,
    last_error = :last_error,
    finished_at = :finished_at
WHERE delivery_id = :delivery_id AND state = 'pending' AND lease_owner = :owner AND attempts = :attempt
