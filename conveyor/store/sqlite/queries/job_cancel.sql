UPDATE conveyor_jobs
SET status = 'cancelled', finished_at = :now,
    error = json_object('code', 'CANCELLED', 'message', :reason, 'details', json_object()),
    lease_expires_at = NULL
WHERE job_id = :job_id AND status IN ('waiting', 'scheduled', 'pending', 'running')
