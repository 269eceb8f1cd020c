-- Serializes migrations of one schema across processes; released when the transaction ends.
SELECT pg_advisory_xact_lock(hashtext('conveyor_migrate:' || %(schema)s::text))
