-- A lease that expired means its worker died: count a crash, then requeue or quarantine (a
-- quarantined job with a webhook gets its failure callback from a trigger, migrations/0003).
-- SKIP LOCKED: every worker runs a rescuer; they share the expired rows instead of queueing.
UPDATE conveyor_jobs AS j
SET crashes = j.crashes + 1,
    status = CASE WHEN j.crashes + 1 >= j.max_crashes THEN 'failed' ELSE 'pending' END,
    error = CASE WHEN j.crashes + 1 >= j.max_crashes THEN json_build_object(
                'code', 'WORKER_CRASHED',
                'message', 'the job''s worker died ' || (j.crashes + 1) || ' times while running it',
                'details', json_build_object('crashes', j.crashes + 1, 'last_worker_id', j.worker_id))
            ELSE j.error END,
    finished_at = CASE WHEN j.crashes + 1 >= j.max_crashes THEN %(now)s ELSE NULL END,
    run_at = %(now)s,
    worker_id = NULL,
    lease_expires_at = NULL
FROM (
    SELECT id FROM conveyor_jobs
    WHERE status = 'running' AND lease_expires_at < %(now)s
    FOR UPDATE SKIP LOCKED
) AS expired
WHERE j.id = expired.id
RETURNING j.job_id, j.status
