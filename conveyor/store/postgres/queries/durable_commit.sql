-- First statement of a transaction on the relaxed pool (relaxed_session.sql) whose commit must be
-- durable after all: job outcomes. They run there for the pool's plans, not its commits: with
-- bitmap scans allowed, job_finish.sql's planner reads the whole running-jobs index, where every
-- finished attempt leaves a dead entry until VACUUM (a plain index scan marks them dead once).
SET LOCAL synchronous_commit TO on
