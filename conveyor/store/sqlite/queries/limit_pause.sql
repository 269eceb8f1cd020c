INSERT INTO conveyor_limits (scope, key, paused, tokens, tokens_at) VALUES (:scope, :key, :paused, 0, :now)
ON CONFLICT (scope, key) DO UPDATE SET paused = excluded.paused
