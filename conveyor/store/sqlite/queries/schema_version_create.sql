CREATE TABLE IF NOT EXISTS conveyor_schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
)
