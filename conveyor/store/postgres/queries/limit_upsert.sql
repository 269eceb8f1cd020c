-- Set a limit's numbers; keeps its pause state. A new bucket starts full.
INSERT INTO conveyor_limits (scope, key, max_running, rate_count, rate_period, tokens, tokens_at, paused)
VALUES (%(scope)s, %(key)s, %(max_running)s, %(rate_count)s, %(rate_period)s, %(burst)s, %(now)s, false)
ON CONFLICT (scope, key) DO UPDATE
SET max_running = excluded.max_running, rate_count = excluded.rate_count, rate_period = excluded.rate_period
