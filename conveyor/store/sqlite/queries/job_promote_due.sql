UPDATE conveyor_jobs SET status = 'pending'
WHERE status = 'scheduled' AND run_at <= :now
