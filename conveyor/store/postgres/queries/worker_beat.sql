INSERT INTO conveyor_workers (worker_id, info, started_at, heartbeat_at, stopped_at)
VALUES (%(worker_id)s, %(info)s::json, %(now)s, %(now)s, %(stopped_at)s)
ON CONFLICT (worker_id) DO UPDATE
SET heartbeat_at = excluded.heartbeat_at, info = excluded.info, stopped_at = excluded.stopped_at
