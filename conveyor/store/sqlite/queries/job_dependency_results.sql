SELECT j.job_id, j.job_type, j.status, j.results FROM conveyor_job_deps d
JOIN conveyor_jobs j ON j.job_id = d.depends_on_id
WHERE d.job_id = ?
