-- Renew only the leases the worker names: a job claimed in its name that it never heard of (a
-- claim or hand-off whose answer was lost with the connection) must expire and be rescued, not
-- stay running for as long as the worker lives.
UPDATE conveyor_jobs SET lease_expires_at = %(lease_expires_at)s
WHERE status = 'running' AND worker_id = %(worker_id)s AND job_id = ANY (%(job_ids)s::text[])
RETURNING job_id
