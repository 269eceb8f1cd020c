-- New jobs whose dependencies are all already satisfied: due at once.
UPDATE conveyor_jobs AS w
SET status = CASE WHEN w.run_at > %(now)s THEN 'scheduled' ELSE 'pending' END
WHERE w.job_id = ANY(%(job_ids)s::text[])
  AND w.status = 'waiting' AND NOT w.held
  AND NOT EXISTS (
      SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
      WHERE d.job_id = w.job_id
        AND j.status <> 'completed'
        AND NOT (w.on_dependency_failure = 'run' AND j.status IN ('failed', 'cancelled')))
