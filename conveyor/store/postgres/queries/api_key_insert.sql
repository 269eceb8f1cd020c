-- A name clash with an active key inserts nothing (the caller gets no row back).
INSERT INTO conveyor_api_keys (key_id, name, scope, key_hash, created_at)
VALUES (%(key_id)s, %(name)s, %(scope)s, %(key_hash)s, %(created_at)s)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
