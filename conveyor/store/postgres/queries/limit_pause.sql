INSERT INTO conveyor_limits (scope, key, paused, tokens, tokens_at) VALUES (%(scope)s, %(key)s, %(paused)s, 0, %(now)s)
ON CONFLICT (scope, key) DO UPDATE SET paused = excluded.paused
