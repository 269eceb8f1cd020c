SELECT COALESCE(MAX(version), 0) FROM conveyor_schema_version
