DELETE FROM conveyor_jobs WHERE job_id = %(job_id)s AND status != 'running'
