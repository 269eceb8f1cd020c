CREATE TABLE IF NOT EXISTS conveyor_schema_version (
    version    integer PRIMARY KEY,
    applied_at double precision NOT NULL
)
