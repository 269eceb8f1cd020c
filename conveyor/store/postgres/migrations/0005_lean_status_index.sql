-- Conveyor schema v5 (PostgreSQL; SQLite's 0005): a leaner write path.
-- conveyor_jobs_status (status, id) cost every enqueue, claim and finish one more index write
-- (and, since status changes, kept every claim and finish from being a HOT update of the row's
-- indexes). The live statuses have their partial indexes already (pending, scheduled, running);
-- only finished jobs, listed and retried by status, still need this one.
DROP INDEX conveyor_jobs_status;
CREATE INDEX conveyor_jobs_done_status ON conveyor_jobs (status, id)
    WHERE status IN ('completed', 'failed', 'cancelled');
