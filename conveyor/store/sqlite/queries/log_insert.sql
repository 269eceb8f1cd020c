INSERT INTO conveyor_job_logs (job_id, timestamp, level, message) VALUES (?, ?, ?, ?)
