-- Due scheduled jobs become pending. SKIP LOCKED: workers promoting at once never wait on (or
-- deadlock with) each other; a bounded batch keeps one claim short (the rest go next claim).
UPDATE conveyor_jobs SET status = 'pending'
WHERE id IN (
    SELECT id FROM conveyor_jobs
    WHERE status = 'scheduled' AND run_at <= %(now)s
    ORDER BY run_at
    LIMIT 10000
    FOR UPDATE SKIP LOCKED)
