UPDATE conveyor_jobs
SET status = 'cancelled', finished_at = %(now)s,
    error = json_build_object('code', 'CANCELLED', 'message', %(reason)s::text, 'details', json_build_object()),
    lease_expires_at = NULL
WHERE job_id = %(job_id)s AND status IN ('waiting', 'scheduled', 'pending', 'running')
