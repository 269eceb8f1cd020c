UPDATE conveyor_jobs SET progress = :progress
WHERE job_id = :job_id AND status = 'running' AND attempt = :attempt AND worker_id = :worker_id
