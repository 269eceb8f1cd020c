-- Dependencies, batches, periodic schedules and fleet-wide limits (PostgreSQL; SQLite's 0004).
-- The graph rules live in triggers, so every path that ends or revives a job (finish, cancel,
-- rescue, retry) keeps dependents and batch parents consistent inside the same transaction. Row
-- triggers also fire for the rows a trigger updates, so cascades recurse as on SQLite.
--
-- What differs from SQLite, where one writer at a time makes it unnecessary:
-- * `has_dependents`: set on a job when a dependent is enqueued (queries/job_deps_mark.sql). The
--   dependency triggers fire only for such jobs, so finishing an ordinary job costs no trigger
--   call; and setting it locks the dependency row, so a dependency that finishes while a
--   dependent is being enqueued is seen by one side or the other, never missed by both.
-- * The dependency triggers lock the waiting dependents before they check them: two dependencies
--   of one job finishing in concurrent transactions are then checked one after the other, and the
--   second sees the first (without the lock each would see the other still running).
-- * Batch triggers update the batch row first: its row lock serializes concurrent children of
--   one batch, so counters, the released held child and the parent's completion stay exact.
-- * Bulk cancels (a batch parent cancelled, the dependents of a failed job) count their children
--   into each batch once (conveyor_batch_count), not child by child: in one transaction each
--   count would add a version of the same two rows, and finding the newest of n versions costs
--   O(n). The per-child trigger knows to skip them from a transaction-local setting
--   (conveyor.cancelling_batch / conveyor.cancelling_dependents_of) the bulk sets meanwhile.
-- * Plans: the trigger functions' statements are planned once per session, generically, so they
--   must not hinge on statistics a fan-out skews. Each must be driven by one job's dependency edges
--   (see the n_distinct below), one batch row, or the held index walked in order; else every job
--   that ends scans every waiting job or every held child: O(n) per job, O(n²) per fan-in.
-- * Held children: a released child's entry stays in conveyor_jobs_held (dead) until VACUUM, so
--   "the first waiting held child" would walk past every child released so far. The batch row
--   remembers where the last release was (released_priority, released_id) and the next search
--   starts right after it, in the index's own order (-priority, id): no other index gives that
--   order, so no plan can read the batch's held children and sort them instead.

ALTER TABLE conveyor_jobs ADD COLUMN held boolean NOT NULL DEFAULT false;  -- a batch child waiting for a slot
ALTER TABLE conveyor_jobs ADD COLUMN on_dependency_failure text NOT NULL DEFAULT 'cancel';  -- or 'run'
ALTER TABLE conveyor_jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;  -- see above

-- Held batch children, in release order (priority DESC, then id): finding the next one must not
-- scan the whole batch. (-priority) instead of priority DESC, so a row comparison can start a scan.
CREATE INDEX conveyor_jobs_held ON conveyor_jobs (parent_id, (-priority), id) WHERE held;

CREATE TABLE conveyor_job_deps (
    depends_on_id text NOT NULL,
    job_id        text NOT NULL,
    PRIMARY KEY (depends_on_id, job_id)
);
CREATE INDEX conveyor_job_deps_job ON conveyor_job_deps (job_id, depends_on_id);
-- The triggers ask for the dependents of one job ("depends_on_id = $1"). After a fan-out (10,000
-- jobs enqueued to depend on one) the sampled statistics say that matches every row, and the cached
-- plan then walks every waiting job for each job that ends. Planning for a few dependents per job
-- keeps it on this table's primary key (ANALYZE applies the setting; 73 ms -> 0.1 ms per job).
ALTER TABLE conveyor_job_deps ALTER COLUMN depends_on_id SET (n_distinct = -0.5);

CREATE TABLE conveyor_batches (
    batch_id              text    PRIMARY KEY,  -- the parent job
    total                 integer NOT NULL,
    completed             integer NOT NULL DEFAULT 0,
    failed                integer NOT NULL DEFAULT 0,
    cancelled             integer NOT NULL DEFAULT 0,
    max_concurrency       integer,
    fail_on_child_failure boolean NOT NULL DEFAULT false, -- workflows: the parent fails if a step did
    -- PostgreSQL only: the last held child released or passed over (cancelled meanwhile). Children
    -- are released in conveyor_jobs_held's order, so the next one comes right after it.
    released_priority     integer,
    released_id           bigint
);

CREATE TABLE conveyor_periodic (
    name        text             PRIMARY KEY,
    schedule    text             NOT NULL,
    job_type    text             NOT NULL,
    parameters  json             NOT NULL,
    options     json             NOT NULL,
    missed      text             NOT NULL,
    next_run_at double precision NOT NULL,
    last_run_at double precision,
    last_job_id text
);

CREATE TABLE conveyor_limits (
    scope       text             NOT NULL,  -- 'queue' or 'job_type'
    key         text             NOT NULL,
    max_running integer,                    -- NULL: no concurrency limit
    rate_count  integer,                    -- NULL: no rate limit; else rate_count per rate_period seconds
    rate_period double precision,
    tokens      double precision NOT NULL DEFAULT 0,
    tokens_at   double precision NOT NULL DEFAULT 0,
    paused      boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (scope, key)
);

-- A completed job releases the dependents whose every dependency is now satisfied.
CREATE FUNCTION conveyor_deps_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM conveyor_jobs
    WHERE job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND status = 'waiting' AND NOT held
    ORDER BY id
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE conveyor_jobs AS w
    SET status = CASE WHEN w.run_at > NEW.finished_at THEN 'scheduled' ELSE 'pending' END
    WHERE w.status = 'waiting' AND NOT w.held
      AND w.job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
          WHERE d.job_id = w.job_id
            AND j.status <> 'completed'
            AND NOT (w.on_dependency_failure = 'run' AND j.status IN ('failed', 'cancelled')));
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_deps_completed AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.status = 'completed' AND OLD.status <> 'completed' AND NEW.has_dependents)
EXECUTE FUNCTION conveyor_deps_completed();

-- A failed or cancelled job cancels its dependents (recursively), or releases the ones that run anyway.
CREATE FUNCTION conveyor_deps_failed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    outer_dependency text := current_setting('conveyor.cancelling_dependents_of', true);  -- recursion
    parents text[];
    batch text;
    n bigint;
BEGIN
    PERFORM 1 FROM conveyor_jobs
    WHERE job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND status = 'waiting' AND NOT held
    ORDER BY id
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- The dependents cancelled here are counted into their batches below, per batch, not one by
    -- one (see conveyor_batch_cancelled).
    PERFORM set_config('conveyor.cancelling_dependents_of', NEW.job_id, true);
    WITH cancelled AS (
        UPDATE conveyor_jobs
        SET status = 'cancelled', finished_at = COALESCE(NEW.finished_at, OLD.finished_at),
            error = json_build_object(
                'code', 'DEPENDENCY_FAILED',
                'message', 'dependency ' || NEW.job_id || ' (' || NEW.job_type || ') ' || NEW.status,
                'details', json_build_object('dependency_id', NEW.job_id, 'dependency_status', NEW.status))
        WHERE status = 'waiting' AND NOT held AND on_dependency_failure = 'cancel'
          AND job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
        RETURNING parent_id
    )
    SELECT array_agg(parent_id) INTO parents FROM cancelled WHERE parent_id IS NOT NULL;
    PERFORM set_config('conveyor.cancelling_dependents_of', COALESCE(outer_dependency, ''), true);
    FOR batch, n IN SELECT x, count(*) FROM unnest(parents) AS x GROUP BY x ORDER BY x LOOP
        PERFORM conveyor_batch_count(batch, 0, 0, n::integer, COALESCE(NEW.finished_at, OLD.finished_at));
    END LOOP;
    UPDATE conveyor_jobs AS w
    SET status = CASE WHEN w.run_at > COALESCE(NEW.finished_at, 0) THEN 'scheduled' ELSE 'pending' END
    WHERE w.status = 'waiting' AND NOT w.held AND w.on_dependency_failure = 'run'
      AND w.job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
          WHERE d.job_id = w.job_id
            AND j.status NOT IN ('completed', 'failed', 'cancelled'));
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_deps_failed AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.status IN ('failed', 'cancelled') AND OLD.status NOT IN ('failed', 'cancelled') AND NEW.has_dependents)
EXECUTE FUNCTION conveyor_deps_failed();

-- A failed or cancelled job brought back (retry) revives the dependents it had cancelled.
CREATE FUNCTION conveyor_deps_revived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conveyor_jobs AS w
    SET status = 'waiting', error = NULL, finished_at = NULL
    WHERE w.status = 'cancelled' AND w.error ->> 'code' = 'DEPENDENCY_FAILED'
      AND w.job_id IN (SELECT job_id FROM conveyor_job_deps WHERE depends_on_id = NEW.job_id)
      AND NOT EXISTS (
          SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
          WHERE d.job_id = w.job_id AND j.status IN ('failed', 'cancelled'));
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_deps_revived AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (OLD.status IN ('failed', 'cancelled') AND NEW.status IN ('waiting', 'scheduled', 'pending')
      AND NEW.has_dependents)
EXECUTE FUNCTION conveyor_deps_revived();

-- A batch parent's progress: the fraction of its children finished.
CREATE FUNCTION conveyor_batch_progress(done integer, total integer) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'step', 'children',
        'percent', round(100.0 * done / total, 1),
        'message', done || ' of ' || total || ' finished')
$$;

-- Count children of a batch that ended, then update the parent's progress or, all children done,
-- finish it (results {total, completed, failed, cancelled, child_ids}). The batch row is updated
-- first: its lock makes concurrent children of one batch take turns. Returns the counted batch
-- (NULL if `batch` is not one).
CREATE FUNCTION conveyor_batch_count(
    batch text, completed_n integer, failed_n integer, cancelled_n integer, ended_at double precision
) RETURNS conveyor_batches LANGUAGE plpgsql AS $$
DECLARE
    b conveyor_batches%ROWTYPE;
    done integer;
BEGIN
    UPDATE conveyor_batches
    SET completed = completed + completed_n, failed = failed + failed_n, cancelled = cancelled + cancelled_n
    WHERE batch_id = batch
    RETURNING * INTO b;
    IF NOT FOUND THEN  -- a parent_id without a batch: nothing to count
        RETURN NULL;
    END IF;
    done := b.completed + b.failed + b.cancelled;
    IF done < b.total THEN
        UPDATE conveyor_jobs SET progress = conveyor_batch_progress(done, b.total) WHERE job_id = batch;
        RETURN b;
    END IF;
    UPDATE conveyor_jobs AS p
    SET progress = conveyor_batch_progress(done, b.total),
        status = CASE WHEN p.status <> 'waiting' THEN p.status
                      WHEN b.fail_on_child_failure AND b.failed + b.cancelled > 0 THEN 'failed'
                      ELSE 'completed' END,
        error = CASE WHEN p.status = 'waiting' AND b.fail_on_child_failure AND b.failed + b.cancelled > 0
                     THEN json_build_object(
                         'code', 'WORKFLOW_FAILED',
                         'message', b.failed || ' step(s) failed, ' || b.cancelled || ' cancelled',
                         'details', json_build_object('failed', b.failed, 'cancelled', b.cancelled))
                     ELSE p.error END,
        finished_at = CASE WHEN p.status = 'waiting'
                           THEN COALESCE(ended_at, extract(epoch FROM clock_timestamp())::double precision)
                           ELSE p.finished_at END,
        results = CASE WHEN p.status = 'waiting'
                       THEN json_build_object(
                           'total', b.total, 'completed', b.completed, 'failed', b.failed, 'cancelled', b.cancelled,
                           'child_ids', (SELECT COALESCE(json_agg(c.job_id ORDER BY c.id), '[]'::json)
                                         FROM conveyor_jobs AS c WHERE c.parent_id = batch))
                       ELSE p.results END
    WHERE p.job_id = batch;
    RETURN b;
END $$;

-- A batch child that ends: count it, update or finish the parent, let the next held child run.
-- No bitmap scans: they would gather every remaining held child of the batch, then sort them
-- (the plan small estimates pick: a 10,000-child batch with max_concurrency 50 took 34 s, not 3 s).
CREATE FUNCTION conveyor_batch_child_done() RETURNS trigger LANGUAGE plpgsql
SET enable_bitmapscan = off AS $$
DECLARE
    b conveyor_batches%ROWTYPE;
    nxt record;
    at_priority integer;  -- the release position, as conveyor_jobs_held orders it: (-priority, id)
    at_id bigint;
BEGIN
    IF current_setting('conveyor.cancelling_batch', true) = NEW.parent_id
       OR (NEW.error ->> 'code' = 'DEPENDENCY_FAILED'
           AND NEW.error -> 'details' ->> 'dependency_id' = current_setting('conveyor.cancelling_dependents_of', true))
    THEN
        RETURN NULL;  -- cancelled in bulk: the bulk counts it (conveyor_batch_cancelled, conveyor_deps_failed)
    END IF;
    b := conveyor_batch_count(NEW.parent_id, (NEW.status = 'completed')::integer, (NEW.status = 'failed')::integer,
                              (NEW.status = 'cancelled')::integer, NEW.finished_at);
    -- A child that took a slot frees it for the next held child still waiting (those cancelled
    -- meanwhile are passed over); cancelling a child still held frees none.
    IF b.batch_id IS NULL OR OLD.status = 'waiting' THEN
        RETURN NULL;
    END IF;
    at_priority := COALESCE(-b.released_priority, -2147483647);
    at_id := COALESCE(b.released_id, 0);
    LOOP
        SELECT id, priority, status INTO nxt FROM conveyor_jobs
        WHERE parent_id = NEW.parent_id AND held AND (-priority, id) > (at_priority, at_id)
        ORDER BY -priority, id
        LIMIT 1;
        EXIT WHEN NOT FOUND;
        at_priority := -nxt.priority;
        at_id := nxt.id;
        IF nxt.status = 'waiting' THEN
            UPDATE conveyor_jobs SET status = 'pending', held = false, run_at = COALESCE(NEW.finished_at, run_at)
            WHERE id = nxt.id;
            EXIT;
        END IF;
    END LOOP;
    IF at_id <> COALESCE(b.released_id, 0) THEN
        UPDATE conveyor_batches SET released_priority = -at_priority, released_id = at_id
        WHERE batch_id = NEW.parent_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_batch_child_done AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.parent_id IS NOT NULL
      AND NEW.status IN ('completed', 'failed', 'cancelled')
      AND OLD.status NOT IN ('completed', 'failed', 'cancelled'))
EXECUTE FUNCTION conveyor_batch_child_done();

-- A batch child brought back (retry, revived dependent) reopens its finished parent.
CREATE FUNCTION conveyor_batch_child_revived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conveyor_batches
    SET completed = completed - (OLD.status = 'completed')::integer,
        failed = failed - (OLD.status = 'failed')::integer,
        cancelled = cancelled - (OLD.status = 'cancelled')::integer
    WHERE batch_id = NEW.parent_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE conveyor_jobs SET status = 'waiting', finished_at = NULL, results = NULL, error = NULL
    WHERE job_id = NEW.parent_id AND status IN ('completed', 'failed');
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_batch_child_revived AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.parent_id IS NOT NULL
      AND OLD.status IN ('completed', 'failed', 'cancelled')
      AND NEW.status NOT IN ('completed', 'failed', 'cancelled'))
EXECUTE FUNCTION conveyor_batch_child_revived();

-- Cancelling a batch (or workflow) parent cancels its unfinished children. It counts them itself,
-- once: counted one by one (conveyor_batch_child_done) each would write one more version of the
-- batch row and of the parent in this one transaction, and finding the newest of n versions made
-- cancelling a 10,000-child batch take seconds (O(n²)). The end state is the same. (The same
-- for dependents cancelled by conveyor_deps_failed.)
CREATE FUNCTION conveyor_batch_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    outer_batch text := current_setting('conveyor.cancelling_batch', true);  -- a batch of batches
    n integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = NEW.job_id) THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('conveyor.cancelling_batch', NEW.job_id, true);
    UPDATE conveyor_jobs
    SET status = 'cancelled', finished_at = NEW.finished_at, lease_expires_at = NULL,
        error = json_build_object('code', 'CANCELLED', 'message', 'parent ' || NEW.job_id || ' was cancelled',
                                  'details', json_build_object('parent_id', NEW.job_id))
    WHERE parent_id = NEW.job_id AND status IN ('waiting', 'scheduled', 'pending', 'running');
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('conveyor.cancelling_batch', COALESCE(outer_batch, ''), true);
    IF n > 0 THEN
        PERFORM conveyor_batch_count(NEW.job_id, 0, 0, n, NEW.finished_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER conveyor_batch_cancelled AFTER UPDATE OF status ON conveyor_jobs FOR EACH ROW
WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
EXECUTE FUNCTION conveyor_batch_cancelled();
