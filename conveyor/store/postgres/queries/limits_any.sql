-- Whether any limit exists (asked after an empty claim: job_claim*.sql claim nothing while one
-- does, and the limited path takes over).
SELECT EXISTS (SELECT 1 FROM conveyor_limits)
