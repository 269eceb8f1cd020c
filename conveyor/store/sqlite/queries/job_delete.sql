DELETE FROM conveyor_jobs WHERE job_id = :job_id AND status != 'running'
