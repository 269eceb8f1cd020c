SELECT d.depends_on_id FROM conveyor_job_deps d
WHERE d.job_id IN (SELECT value FROM json_each(:job_ids))
  AND NOT EXISTS (SELECT 1 FROM conveyor_jobs j WHERE j.job_id = d.depends_on_id)
LIMIT 1
