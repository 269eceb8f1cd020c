-- The limited claim path reads the limits under a lock: claimers that limits apply to take turns,
-- so two of them never both take a key's last slot or token (the unlimited path never gets here).
SELECT scope, key, max_running, rate_count, rate_period, tokens, tokens_at, paused FROM conveyor_limits
ORDER BY scope, key
FOR UPDATE
