-- The run time at :from_top among the window's completed jobs, longest first (stats.rank_from_top):
-- a sort bounded to the slowest few, one row sent back.
SELECT finished_at - started_at AS duration FROM conveyor_jobs
WHERE finished_at >= %(since)s AND status = 'completed' AND started_at IS NOT NULL
ORDER BY duration DESC
LIMIT 1 OFFSET %(from_top)s
