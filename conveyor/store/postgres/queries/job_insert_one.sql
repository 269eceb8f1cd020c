-- One job (the common `enqueue`): job_insert.sql with plain values instead of arrays.
INSERT INTO conveyor_jobs (
    job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on, idempotency_key, webhook, metadata)
VALUES (
    %(job_id)s, %(job_type)s, %(queue)s, %(status)s, %(priority)s, %(parameters)s::json, %(max_attempts)s,
    %(max_crashes)s, %(timeout)s, %(created_at)s, %(run_at)s, %(parent_id)s, %(depends_on)s::json,
    %(idempotency_key)s, %(webhook)s::json, %(metadata)s::json)
ON CONFLICT (idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status IN ('waiting', 'scheduled', 'pending', 'running')
    DO NOTHING
RETURNING job_id
