UPDATE conveyor_jobs SET checkpoint = :checkpoint
WHERE job_id = :job_id AND status = 'running' AND attempt = :attempt AND worker_id = :worker_id
