SELECT MIN(lease_expires_at) FROM conveyor_jobs WHERE status = 'running'
