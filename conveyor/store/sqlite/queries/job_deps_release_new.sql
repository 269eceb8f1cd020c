-- New jobs whose dependencies are all already satisfied: due at once.
UPDATE conveyor_jobs
SET status = CASE WHEN run_at > :now THEN 'scheduled' ELSE 'pending' END
WHERE job_id IN (SELECT value FROM json_each(:job_ids))
  AND +status = 'waiting' AND held = 0  -- +: by job_id, not every waiting job
  AND NOT EXISTS (
      SELECT 1 FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
      WHERE d.job_id = conveyor_jobs.job_id
        AND j.status != 'completed'
        AND NOT (conveyor_jobs.on_dependency_failure = 'run' AND j.status IN ('failed', 'cancelled')))
