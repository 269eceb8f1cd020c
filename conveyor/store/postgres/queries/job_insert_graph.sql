-- job_insert.sql plus the workflow columns (batch children held for a slot, what a dependency's
-- failure does): the jobs of a batch or a dependency graph, one array element per job.
INSERT INTO conveyor_jobs (
    job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on, idempotency_key, webhook, metadata, held, on_dependency_failure)
SELECT job_id, job_type, queue, status, priority, parameters::json, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on::json, idempotency_key, webhook::json, metadata::json, held,
    on_dependency_failure
FROM unnest(
    %(job_id)s::text[], %(job_type)s::text[], %(queue)s::text[], %(status)s::text[],
    %(priority)s::integer[], %(parameters)s::text[], %(max_attempts)s::integer[],
    %(max_crashes)s::integer[], %(timeout)s::double precision[], %(created_at)s::double precision[],
    %(run_at)s::double precision[], %(parent_id)s::text[], %(depends_on)s::text[],
    %(idempotency_key)s::text[], %(webhook)s::text[], %(metadata)s::text[], %(held)s::boolean[],
    %(on_dependency_failure)s::text[]
) AS t (job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
    created_at, run_at, parent_id, depends_on, idempotency_key, webhook, metadata, held, on_dependency_failure)
ON CONFLICT (idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status IN ('waiting', 'scheduled', 'pending', 'running')
    DO NOTHING
RETURNING job_id
