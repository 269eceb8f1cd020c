-- Jobs that reached a terminal status inside the window (uses conveyor_jobs_finished).
SELECT queue, job_type, status, finished_at - started_at FROM conveyor_jobs
WHERE finished_at > %(since)s AND finished_at <= %(until)s
