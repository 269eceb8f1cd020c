-- Compare-and-set: of all the processes that saw this tick due, exactly one moves it on.
UPDATE conveyor_periodic
SET next_run_at = %(next_run_at)s, last_run_at = %(last_run_at)s,
    last_job_id = COALESCE(%(last_job_id)s, last_job_id)
WHERE name = %(name)s AND next_run_at = %(expected)s
