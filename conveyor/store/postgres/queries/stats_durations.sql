SELECT finished_at - started_at AS duration FROM conveyor_jobs
WHERE finished_at >= %(since)s AND status = 'completed' AND started_at IS NOT NULL
ORDER BY duration
