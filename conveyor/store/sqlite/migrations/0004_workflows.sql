-- Dependencies, batches, periodic schedules and fleet-wide limits (SQLite).
-- The graph rules live in triggers, so every path that ends or revives a job (finish, cancel,
-- rescue, retry) keeps dependents and batch parents consistent inside the same transaction.

ALTER TABLE conveyor_jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;  -- 1: a batch child waiting for a slot
ALTER TABLE conveyor_jobs ADD COLUMN on_dependency_failure TEXT NOT NULL DEFAULT 'cancel';  -- or 'run'

-- Held batch children, in release order: finding the next one must not scan the whole batch.
CREATE INDEX conveyor_jobs_held ON conveyor_jobs (parent_id, priority DESC, id) WHERE held = 1;

CREATE TABLE conveyor_job_deps (
    depends_on_id TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    PRIMARY KEY (depends_on_id, job_id)
) WITHOUT ROWID;
CREATE INDEX conveyor_job_deps_job ON conveyor_job_deps (job_id, depends_on_id);

CREATE TABLE conveyor_batches (
    batch_id        TEXT PRIMARY KEY,  -- the parent job
    total           INTEGER NOT NULL,
    completed       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    max_concurrency INTEGER,
    fail_on_child_failure INTEGER NOT NULL DEFAULT 0  -- workflows: the parent fails if a step did
);

CREATE TABLE conveyor_periodic (
    name        TEXT PRIMARY KEY,
    schedule    TEXT NOT NULL,
    job_type    TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    options     TEXT NOT NULL,
    missed      TEXT NOT NULL,
    next_run_at REAL NOT NULL,
    last_run_at REAL,
    last_job_id TEXT
);

CREATE TABLE conveyor_limits (
    scope        TEXT NOT NULL,  -- 'queue' or 'job_type'
    key          TEXT NOT NULL,
    max_running  INTEGER,        -- NULL: no concurrency limit
    rate_count   INTEGER,        -- NULL: no rate limit; else rate_count per rate_period seconds
    rate_period  REAL,
    tokens       REAL NOT NULL DEFAULT 0,
    tokens_at    REAL NOT NULL DEFAULT 0,
    paused       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
);

-- `+status` (here and below) keeps the planner off conveyor_jobs_status: these updates must be driven by
-- the job's conveyor_job_deps rows, or every finish scans every waiting job (10,000 waiting made each
-- unrelated job_finish cost 1.5 ms instead of 17 µs).
-- A completed job releases the dependents whose every dependency is now satisfied.
CREATE TRIGGER conveyor_deps_completed AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.status = 'completed' AND OLD.status != 'completed'
     AND EXISTS (SELECT 1 FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)  -- most jobs have no dependents
BEGIN
    UPDATE conveyor_jobs
    SET status = CASE WHEN run_at > NEW.finished_at THEN 'scheduled' ELSE 'pending' END
    WHERE +status = 'waiting' AND held = 0
      AND job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
          WHERE d.job_id = conveyor_jobs.job_id
            AND j.status != 'completed'
            AND NOT (conveyor_jobs.on_dependency_failure = 'run' AND j.status IN ('failed', 'cancelled')));
END;

-- A failed or cancelled job cancels its dependents (recursively), or releases the ones that run anyway.
CREATE TRIGGER conveyor_deps_failed AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.status IN ('failed', 'cancelled') AND OLD.status NOT IN ('failed', 'cancelled')
     AND EXISTS (SELECT 1 FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
BEGIN
    UPDATE conveyor_jobs
    SET status = 'cancelled', finished_at = COALESCE(NEW.finished_at, OLD.finished_at),
        error = json_object(
            'code', 'DEPENDENCY_FAILED',
            'message', 'dependency ' || NEW.job_id || ' (' || NEW.job_type || ') ' || NEW.status,
            'details', json_object('dependency_id', NEW.job_id, 'dependency_status', NEW.status))
    WHERE +status = 'waiting' AND held = 0 AND on_dependency_failure = 'cancel'
      AND job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id);
    UPDATE conveyor_jobs
    SET status = CASE WHEN run_at > COALESCE(NEW.finished_at, 0) THEN 'scheduled' ELSE 'pending' END
    WHERE +status = 'waiting' AND held = 0 AND on_dependency_failure = 'run'
      AND job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
          WHERE d.job_id = conveyor_jobs.job_id
            AND j.status NOT IN ('completed', 'failed', 'cancelled'));
END;

-- A failed or cancelled job brought back (retry) revives the dependents it had cancelled.
CREATE TRIGGER conveyor_deps_revived AFTER UPDATE OF status ON conveyor_jobs
WHEN OLD.status IN ('failed', 'cancelled') AND NEW.status IN ('waiting', 'scheduled', 'pending')
BEGIN
    UPDATE conveyor_jobs
    SET status = 'waiting', error = NULL, finished_at = NULL
    WHERE +status = 'cancelled' AND json_extract(error, '$.code') = 'DEPENDENCY_FAILED'
      AND job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
          WHERE d.job_id = conveyor_jobs.job_id AND j.status IN ('failed', 'cancelled'));
END;

-- A batch child that ends: count it, let the next held child run, update or finish the parent.
CREATE TRIGGER conveyor_batch_child_done AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.parent_id IS NOT NULL
     AND NEW.status IN ('completed', 'failed', 'cancelled')
     AND OLD.status NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_batches
    SET completed = completed + (NEW.status = 'completed'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled')
    WHERE batch_id = NEW.parent_id;
    -- Only a child that took a slot frees one (cancelling a child still held frees none).
    UPDATE conveyor_jobs SET status = 'pending', held = 0, run_at = COALESCE(NEW.finished_at, run_at)
    WHERE OLD.status != 'waiting'
      AND id = (SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_held
                WHERE parent_id = NEW.parent_id AND held = 1 AND status = 'waiting'
                ORDER BY priority DESC, id LIMIT 1);
    UPDATE conveyor_jobs
    SET progress = (
            SELECT json_object(
                'step', 'children',
                'percent', round(100.0 * (completed + failed + cancelled) / total, 1),
                'message', (completed + failed + cancelled) || ' of ' || total || ' finished')
            FROM conveyor_batches WHERE batch_id = NEW.parent_id),
        status = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT CASE WHEN fail_on_child_failure AND failed + cancelled > 0 THEN 'failed' ELSE 'completed' END
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE status END,
        error = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total AND fail_on_child_failure AND failed + cancelled > 0
                FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT json_object('code', 'WORKFLOW_FAILED',
                                     'message', failed || ' step(s) failed, ' || cancelled || ' cancelled',
                                     'details', json_object('failed', failed, 'cancelled', cancelled))
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE error END,
        finished_at = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN COALESCE(NEW.finished_at, (julianday('now') - 2440587.5) * 86400.0) ELSE finished_at END,
        results = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT json_object(
                    'total', total, 'completed', completed, 'failed', failed, 'cancelled', cancelled,
                    'child_ids', (SELECT json_group_array(job_id) FROM (
                        SELECT job_id FROM conveyor_jobs WHERE parent_id = NEW.parent_id ORDER BY id)))
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE results END
    WHERE job_id = NEW.parent_id AND EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = NEW.parent_id);
END;

-- A batch child brought back (retry, revived dependent) reopens its finished parent.
CREATE TRIGGER conveyor_batch_child_revived AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.parent_id IS NOT NULL
     AND OLD.status IN ('completed', 'failed', 'cancelled')
     AND NEW.status NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_batches
    SET completed = completed - (OLD.status = 'completed'),
        failed = failed - (OLD.status = 'failed'),
        cancelled = cancelled - (OLD.status = 'cancelled')
    WHERE batch_id = NEW.parent_id;
    UPDATE conveyor_jobs SET status = 'waiting', finished_at = NULL, results = NULL, error = NULL
    WHERE job_id = NEW.parent_id AND status IN ('completed', 'failed')
      AND EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = NEW.parent_id);
END;

-- Cancelling a batch (or workflow) parent cancels its unfinished children.
CREATE TRIGGER conveyor_batch_cancelled AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.status = 'cancelled' AND OLD.status != 'cancelled'
     AND EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = NEW.job_id)
BEGIN
    UPDATE conveyor_jobs
    SET status = 'cancelled', finished_at = NEW.finished_at, lease_expires_at = NULL,
        error = json_object('code', 'CANCELLED', 'message', 'parent ' || NEW.job_id || ' was cancelled',
                            'details', json_object('parent_id', NEW.job_id))
    WHERE parent_id = NEW.job_id AND status IN ('waiting', 'scheduled', 'pending', 'running');
END;
