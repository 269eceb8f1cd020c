-- A big batch without idempotency keys: job_insert_graph.sql's columns through COPY.
COPY conveyor_jobs (
    job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on, idempotency_key, webhook, metadata, held, on_dependency_failure)
FROM STDIN
