-- One pending job (the common `enqueue`), handed straight to an idle worker parked for its queue
-- (migrations/0007): written already claimed by that worker (attempt 1, a lease of the worker's
-- length) and NOTIFYed to it with the job itself, 'r:<worker_id> <json>', so it starts without a
-- claim round trip. With no ticket to take, the plain insert and its 'j:<queue>' wake-up.
-- No hand-off while fleet-wide limits exist (the claim path enforces them), nor while jobs wait in
-- the queue (a new job must not overtake them). A ticket whose worker's LISTEN session no longer
-- holds its advisory lock is dead: the shared try-lock succeeds only then (and is let go at commit).
WITH ticket AS (
    DELETE FROM conveyor_parked AS p
    USING (
        SELECT worker_id FROM conveyor_parked
        WHERE (queues IS NULL OR %(queue)s = ANY (queues)) AND NOT pg_try_advisory_xact_lock_shared(lock_key)
        ORDER BY parked_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS pick
    -- Checked only once a ticket is found (they name `pick`): most enqueues find none.
    WHERE p.worker_id = pick.worker_id
      AND NOT EXISTS (SELECT 1 FROM conveyor_limits WHERE pick.worker_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM conveyor_jobs
                      WHERE status = 'pending' AND queue = %(queue)s AND pick.worker_id IS NOT NULL)
    RETURNING p.worker_id, p.lease_seconds
), inserted AS (
    INSERT INTO conveyor_jobs (
        job_id, job_type, queue, status, priority, parameters, max_attempts, max_crashes, timeout,
        created_at, run_at, webhook, metadata, attempt, worker_id, started_at, lease_expires_at)
    SELECT %(job_id)s, %(job_type)s, %(queue)s, CASE WHEN t.worker_id IS NULL THEN 'pending' ELSE 'running' END,
        %(priority)s, %(parameters)s::json, %(max_attempts)s, %(max_crashes)s, %(timeout)s,
        %(created_at)s, %(run_at)s, %(webhook)s::json, %(metadata)s::json,
        CASE WHEN t.worker_id IS NULL THEN 0 ELSE 1 END, t.worker_id,
        CASE WHEN t.worker_id IS NULL THEN NULL ELSE %(created_at)s END, %(created_at)s + t.lease_seconds
    FROM (VALUES (1)) AS one LEFT JOIN ticket AS t ON true
    RETURNING id, job_id, job_type, queue, priority, parameters, attempt, max_attempts, timeout, metadata,
        worker_id, lease_expires_at
)
SELECT i.worker_id, i.lease_expires_at, pg_notify(%(channel)s, CASE WHEN i.worker_id IS NULL THEN 'j:' || i.queue
    ELSE 'r:' || i.worker_id || ' ' || json_build_array(i.id, i.job_id, i.job_type, i.queue, i.priority,
        i.parameters, i.attempt, i.max_attempts, i.timeout, i.metadata)::text END)
FROM inserted AS i
