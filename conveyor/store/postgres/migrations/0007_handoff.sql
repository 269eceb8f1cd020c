-- Conveyor schema v7 (PostgreSQL; SQLite's 0007 is empty): idle workers parked for a hand-off.
-- An idle worker leaves a ticket here. An enqueue that finds one writes its job already claimed
-- by that worker and NOTIFYs it the job itself, so the worker starts the job without a claim
-- round trip (queries/job_insert_handoff.sql, worker/eager.py) — as Redis hands a pushed item to
-- a client blocked in BRPOP. A ticket counts only while its worker's LISTEN session holds the
-- advisory lock `lock_key`: a worker killed while parked leaves a ticket that nobody takes.
-- Unlogged: a ticket is worth nothing after a server crash (its session is gone too), so writing
-- one skips the WAL.
CREATE UNLOGGED TABLE conveyor_parked (
    worker_id     text PRIMARY KEY,
    lock_key      bigint           NOT NULL,
    queues        text[],                     -- the queues it serves; NULL: every queue
    lease_seconds double precision NOT NULL,
    parked_at     double precision NOT NULL   -- the longest parked gets the next job
);
