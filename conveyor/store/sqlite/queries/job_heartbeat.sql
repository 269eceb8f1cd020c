-- Renew only the leases the worker names: a job claimed in its name that it never heard of (a
-- claim whose answer was lost) must expire and be rescued, not stay running while the worker lives.
UPDATE conveyor_jobs INDEXED BY conveyor_jobs_running SET lease_expires_at = :lease_expires_at
WHERE status = 'running' AND worker_id = :worker_id AND job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING job_id
