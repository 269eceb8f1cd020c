INSERT INTO conveyor_api_keys (key_id, name, scope, key_hash, created_at)
VALUES (:key_id, :name, :scope, :key_hash, :created_at)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
