-- Conveyor schema v5 (SQLite): a leaner write path.
-- conveyor_jobs_status (status, id) cost every enqueue, claim and finish one more b-tree write:
-- on a single-job enqueue one more page in the WAL per commit (≈10 µs of ≈50), and three index
-- updates over a job's life. The live statuses have their partial indexes already (pending,
-- scheduled, running); only finished jobs, listed and retried by status, still need this one.
DROP INDEX conveyor_jobs_status;
CREATE INDEX conveyor_jobs_done_status ON conveyor_jobs (status, id)
    WHERE status IN ('completed', 'failed', 'cancelled');
