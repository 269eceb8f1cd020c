DELETE FROM conveyor_limits WHERE scope = :scope AND key = :key
