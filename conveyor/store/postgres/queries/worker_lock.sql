-- The session lock that keeps a worker's tickets alive (migrations/0007), on its LISTEN connection.
SELECT pg_try_advisory_lock(%(lock_key)s)
