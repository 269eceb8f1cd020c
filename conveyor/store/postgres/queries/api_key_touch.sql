UPDATE conveyor_api_keys SET last_used_at = %(now)s WHERE key_id = %(key_id)s
