-- Callbacks a dispatcher may take now (a read: no write lock while it scans a backlog). Only the
-- head of each job's line is eligible (its earlier callbacks are delivered or dead), so a job's
-- callbacks go out one at a time, in order. A progress callback that was never tried also waits
-- until the job's previous callback was sent at least :progress_interval ago, unless a later
-- callback is queued behind it (then it goes now). webhook_claim.sql then leases them.
SELECT d.id FROM conveyor_webhook_deliveries AS d
WHERE d.state = 'pending'
  AND d.next_attempt_at <= :now
  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= :now)
  AND NOT EXISTS (
      SELECT 1 FROM conveyor_webhook_deliveries AS earlier
      WHERE earlier.job_id = d.job_id AND earlier.id < d.id AND earlier.state = 'pending')
  AND (
      d.event != 'processing' OR d.attempts > 0
      OR EXISTS (
          SELECT 1 FROM conveyor_webhook_deliveries AS later
          WHERE later.job_id = d.job_id AND later.id > d.id)
      OR COALESCE((
          SELECT prev.last_attempt_at FROM conveyor_webhook_deliveries AS prev
          WHERE prev.job_id = d.job_id AND prev.id < d.id
          ORDER BY prev.id DESC LIMIT 1), 0) <= :now - :progress_interval)
ORDER BY d.next_attempt_at, d.id
LIMIT :limit
