-- job_get.sql for several jobs (new jobs settled by their dependencies' state).
SELECT id, job_id, job_type, queue, status, priority, parameters, progress, results, error, attempt,
    max_attempts, crashes, max_crashes, timeout, checkpoint, created_at, run_at, started_at,
    finished_at, worker_id, lease_expires_at, parent_id, depends_on, idempotency_key, webhook, metadata
FROM conveyor_jobs WHERE job_id = ANY(%(job_ids)s::text[])
