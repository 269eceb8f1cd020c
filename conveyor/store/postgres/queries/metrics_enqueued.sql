-- Jobs inserted after the previous scrape's cursor (ids grow with every insert).
SELECT queue, job_type, COUNT(*), MAX(id) FROM conveyor_jobs WHERE id > %(after)s GROUP BY queue, job_type
