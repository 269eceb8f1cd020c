-- Bulk enqueue without idempotency keys: COPY streams every row in one statement, the fastest
-- way into PostgreSQL (job_insert.sql handles batches with keys: COPY cannot skip conflicts).
COPY conveyor_jobs (
    job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on, idempotency_key, webhook, metadata)
FROM STDIN
