-- Session settings of the relaxed pool (database.py), which serves the worker's hot path.
-- Commits skip the WAL flush: a lost claim, heartbeat or progress write is harmless (the job is
-- claimed or rescued again; delivery is at-least-once). Bitmap scans off: a claim walks the
-- pending index in (priority, id) order and stops after :limit rows, instead of fetching and
-- sorting every pending row — the plan PostgreSQL picks from stale statistics (e.g. right after a
-- bulk enqueue, before autovacuum has analyzed the table).
SET synchronous_commit TO off;
SET enable_bitmapscan TO off
