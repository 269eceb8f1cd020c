UPDATE conveyor_jobs SET checkpoint = %(checkpoint)s::json
WHERE job_id = %(job_id)s AND status = 'running' AND attempt = %(attempt)s AND worker_id = %(worker_id)s
