DELETE FROM conveyor_jobs
WHERE finished_at < %(before)s AND status = ANY(%(statuses)s::text[])
