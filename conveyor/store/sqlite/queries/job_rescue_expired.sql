-- A lease that expired means its worker died: count a crash, then requeue or quarantine.
UPDATE conveyor_jobs
SET crashes = crashes + 1,
    status = CASE WHEN crashes + 1 >= max_crashes THEN 'failed' ELSE 'pending' END,
    error = CASE WHEN crashes + 1 >= max_crashes THEN json_object(
                'code', 'WORKER_CRASHED',
                'message', 'the job''s worker died ' || (crashes + 1) || ' times while running it',
                'details', json_object('crashes', crashes + 1, 'last_worker_id', worker_id))
            ELSE error END,
    finished_at = CASE WHEN crashes + 1 >= max_crashes THEN :now ELSE NULL END,
    run_at = :now,
    worker_id = NULL,
    lease_expires_at = NULL
WHERE status = 'running' AND lease_expires_at < :now
RETURNING job_id, status
