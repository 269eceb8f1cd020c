UPDATE conveyor_api_keys SET revoked_at = %(now)s
WHERE revoked_at IS NULL AND (name = %(name_or_id)s OR key_id = %(name_or_id)s)
RETURNING key_id, name, scope, key_hash, created_at, last_used_at, revoked_at
