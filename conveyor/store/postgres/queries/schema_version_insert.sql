INSERT INTO conveyor_schema_version (version, applied_at) VALUES (%(version)s, %(applied_at)s)
