-- The dependencies of new jobs: flag each as having dependents (from now on its status changes
-- run the dependency triggers). The UPDATE also locks each dependency until this transaction
-- commits, so one that finishes meanwhile either did so before (job_deps_*_new.sql, later
-- statements, see it) or waits, and its triggers then see the new edges. Returns the first
-- dependency that does not exist, if any.
WITH marked AS (
    UPDATE conveyor_jobs SET has_dependents = true
    WHERE job_id = ANY(%(depends_on)s::text[])
    RETURNING job_id
)
SELECT d.job_id FROM unnest(%(depends_on)s::text[]) WITH ORDINALITY AS d (job_id, pos)
WHERE d.job_id NOT IN (SELECT job_id FROM marked)
ORDER BY d.pos
LIMIT 1
