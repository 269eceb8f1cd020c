-- Lease the callbacks a dispatcher may take now. Only the head of each job's line is eligible
-- (its earlier callbacks are delivered or dead), so a job's callbacks go out one at a time, in
-- order. A progress callback that was never tried also waits until the job's previous callback
-- was sent at least :progress_interval ago, unless a later callback is queued behind it (then it
-- goes now). SKIP LOCKED: dispatchers on many machines take disjoint callbacks without waiting;
-- a row locked here is re-checked against its latest version. Each claim counts an attempt.
UPDATE conveyor_webhook_deliveries AS w
SET attempts = w.attempts + 1,
    lease_owner = %(owner)s,
    lease_expires_at = %(lease_expires_at)s,
    last_attempt_at = %(now)s
WHERE w.id IN (
    SELECT d.id FROM conveyor_webhook_deliveries AS d
    WHERE d.state = 'pending'
      AND d.next_attempt_at <= %(now)s
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_webhook_deliveries AS earlier
          WHERE earlier.job_id = d.job_id AND earlier.id < d.id AND earlier.state = 'pending')
      AND (
          d.event <> 'processing' OR d.attempts > 0
          OR EXISTS (
              SELECT 1 FROM conveyor_webhook_deliveries AS later
              WHERE later.job_id = d.job_id AND later.id > d.id)
          OR COALESCE((
              SELECT prev.last_attempt_at FROM conveyor_webhook_deliveries AS prev
              WHERE prev.job_id = d.job_id AND prev.id < d.id
              ORDER BY prev.id DESC LIMIT 1), 0) <= %(now)s - %(progress_interval)s)
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED)
  AND w.state = 'pending'
  AND w.next_attempt_at <= %(now)s
  AND (w.lease_expires_at IS NULL OR w.lease_expires_at <= %(now)s)
RETURNING w.delivery_id, w.job_id, w.event, w.url, w.token, w.payload, w.state, w.attempts, w.created_at,
    w.next_attempt_at, w.last_attempt_at, w.last_status, w.last_error, w.finished_at, w.id
