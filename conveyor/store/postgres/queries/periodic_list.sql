SELECT name, schedule, job_type, parameters, options, missed, next_run_at, last_run_at, last_job_id
FROM conveyor_periodic ORDER BY next_run_at, name
