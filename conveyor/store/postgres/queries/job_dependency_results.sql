SELECT j.job_id, j.job_type, j.status, j.results FROM conveyor_job_deps AS d
JOIN conveyor_jobs AS j ON j.job_id = d.depends_on_id
WHERE d.job_id = %(job_id)s
