-- An idle worker's ticket (migrations/0007): the next new job of its queues may be handed to it.
INSERT INTO conveyor_parked (worker_id, lock_key, queues, lease_seconds, parked_at)
VALUES (%(worker_id)s, %(lock_key)s, %(queues)s::text[], %(lease_seconds)s, %(now)s)
ON CONFLICT (worker_id) DO UPDATE
SET lock_key = excluded.lock_key, queues = excluded.queues, lease_seconds = excluded.lease_seconds,
    parked_at = excluded.parked_at
