DELETE FROM conveyor_job_logs WHERE job_id = :job_id
