UPDATE conveyor_jobs INDEXED BY conveyor_jobs_scheduled SET status = 'pending'
WHERE status = 'scheduled' AND run_at <= :now
