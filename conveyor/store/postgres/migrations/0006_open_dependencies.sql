-- Conveyor schema v6 (PostgreSQL; SQLite's 0006): fan-in in linear time.
-- A completed job releases a dependent once none of its dependencies is left unfinished. That
-- check walked the dependent's edges from the first, and in a fan-in (one job after 10,000) the
-- first ones are the ones already completed: each completion re-walked all of those before it,
-- O(n²) in all. Edges now say when their dependency completed, and the check walks only the open
-- ones: the first it meets is usually unfinished. The done flag only narrows the walk; the
-- dependency's status still decides, so an edge marked late (or never) cannot release too early.
ALTER TABLE conveyor_job_deps ADD COLUMN done boolean NOT NULL DEFAULT false;  -- the dependency completed
UPDATE conveyor_job_deps SET done = true
WHERE depends_on_id IN (SELECT job_id FROM conveyor_jobs WHERE status = 'completed');
CREATE INDEX conveyor_job_deps_open ON conveyor_job_deps (job_id, depends_on_id) WHERE NOT done;

CREATE OR REPLACE FUNCTION conveyor_deps_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conveyor_job_deps SET done = true WHERE depends_on_id = NEW.job_id AND NOT done;
    PERFORM 1 FROM conveyor_jobs
    WHERE job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND status = 'waiting' AND NOT held
    ORDER BY id
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Each statement here reads afresh, after the lock above: a dependency that completed in a
    -- concurrent transaction which held these rows first is seen as completed by now.
    UPDATE conveyor_jobs AS w
    SET status = CASE WHEN w.run_at > NEW.finished_at THEN 'scheduled' ELSE 'pending' END
    WHERE w.status = 'waiting' AND NOT w.held
      AND w.job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
          WHERE d.job_id = w.job_id AND NOT d.done
            AND j.status <> 'completed'
            AND NOT (w.on_dependency_failure = 'run' AND j.status IN ('failed', 'cancelled')));
    RETURN NULL;
END $$;
