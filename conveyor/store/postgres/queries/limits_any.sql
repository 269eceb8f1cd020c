-- Whether any limit exists: then job_claim*.sql claim nothing and the limited path takes over.
SELECT EXISTS (SELECT 1 FROM conveyor_limits)
