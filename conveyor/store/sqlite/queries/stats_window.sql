-- The stats window in one pass over its finished jobs: how many completed and failed, and the
-- completed ones' count and mean run time (stats.Window; the p95 is stats_duration_rank.sql).
SELECT COUNT(*) FILTER (WHERE status = 'completed'),
       COUNT(*) FILTER (WHERE status = 'failed'),
       COUNT(*) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL),
       AVG(finished_at - started_at) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL)
FROM conveyor_jobs
WHERE finished_at >= :since
