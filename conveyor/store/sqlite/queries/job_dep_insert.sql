INSERT OR IGNORE INTO conveyor_job_deps (depends_on_id, job_id) VALUES (?, ?)
