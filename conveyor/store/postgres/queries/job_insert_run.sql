-- A run of jobs alike in all but id and parameters (enqueue_many's hot path): the shared columns
-- are bound once and the server walks %(rows)s, [[job_id, parameters], …], itself. The client
-- sends one JSON text instead of a row or eighteen array elements per job.
INSERT INTO conveyor_jobs (
    job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, webhook, metadata, on_dependency_failure)
SELECT r ->> 0, %(job_type)s, %(queue)s, %(status)s, %(priority)s, r -> 1, %(max_attempts)s,
    %(max_crashes)s, %(timeout)s, %(created_at)s, %(run_at)s, %(parent_id)s, %(webhook)s::json,
    %(metadata)s::json, %(on_dependency_failure)s
FROM json_array_elements(%(rows)s::json) AS r
