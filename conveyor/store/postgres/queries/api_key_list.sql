SELECT key_id, name, scope, key_hash, created_at, last_used_at, revoked_at FROM conveyor_api_keys
WHERE %(include_revoked)s::boolean OR revoked_at IS NULL
ORDER BY id
