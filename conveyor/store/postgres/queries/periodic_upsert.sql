-- Register a schedule; an unchanged schedule keeps its next run, so restarts never skip or repeat a tick.
INSERT INTO conveyor_periodic (name, schedule, job_type, parameters, options, missed, next_run_at)
VALUES (%(name)s, %(schedule)s, %(job_type)s, %(parameters)s::json, %(options)s::json, %(missed)s, %(next_run_at)s)
ON CONFLICT (name) DO UPDATE
SET job_type = excluded.job_type, parameters = excluded.parameters, options = excluded.options,
    missed = excluded.missed,
    next_run_at = CASE WHEN conveyor_periodic.schedule = excluded.schedule
                       THEN conveyor_periodic.next_run_at ELSE excluded.next_run_at END,
    schedule = excluded.schedule
