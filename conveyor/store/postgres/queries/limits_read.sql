SELECT scope, key, max_running, rate_count, rate_period, tokens, tokens_at, paused FROM conveyor_limits
ORDER BY scope, key
