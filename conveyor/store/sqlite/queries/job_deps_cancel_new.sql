-- New jobs whose dependency already failed: cancelled at once (unless they run anyway).
UPDATE conveyor_jobs
SET status = 'cancelled', finished_at = :now,
    error = (SELECT json_object(
                 'code', 'DEPENDENCY_FAILED',
                 'message', 'dependency ' || j.job_id || ' (' || j.job_type || ') ' || j.status,
                 'details', json_object('dependency_id', j.job_id, 'dependency_status', j.status))
             FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
             WHERE d.job_id = conveyor_jobs.job_id AND j.status IN ('failed', 'cancelled')
             LIMIT 1)
WHERE job_id IN (SELECT value FROM json_each(:job_ids))
  AND +status = 'waiting' AND held = 0 AND on_dependency_failure = 'cancel'  -- +: by job_id, not every waiting job
  AND EXISTS (
      SELECT 1 FROM conveyor_job_deps d JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
      WHERE d.job_id = conveyor_jobs.job_id AND j.status IN ('failed', 'cancelled'))
