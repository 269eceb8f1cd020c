UPDATE conveyor_api_keys SET revoked_at = :now
WHERE revoked_at IS NULL AND (name = :name_or_id OR key_id = :name_or_id)
RETURNING key_id, name, scope, key_hash, created_at, last_used_at, revoked_at
