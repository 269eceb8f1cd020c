-- New jobs whose dependency already failed: cancelled at once (unless they run anyway).
UPDATE conveyor_jobs AS w
SET status = 'cancelled', finished_at = %(now)s,
    error = (SELECT json_build_object(
                 'code', 'DEPENDENCY_FAILED',
                 'message', 'dependency ' || j.job_id || ' (' || j.job_type || ') ' || j.status,
                 'details', json_build_object('dependency_id', j.job_id, 'dependency_status', j.status))
             FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
             WHERE d.job_id = w.job_id AND j.status IN ('failed', 'cancelled')
             ORDER BY d.depends_on_id
             LIMIT 1)
WHERE w.job_id = ANY(%(job_ids)s::text[])
  AND w.status = 'waiting' AND NOT w.held AND w.on_dependency_failure = 'cancel'
  AND EXISTS (
      SELECT 1 FROM conveyor_job_deps AS d JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
      WHERE d.job_id = w.job_id AND j.status IN ('failed', 'cancelled'))
