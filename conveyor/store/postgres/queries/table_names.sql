-- Conveyor's tables in the schema the connection's search_path creates in (none if it is missing).
SELECT table_name FROM information_schema.tables
WHERE table_schema = current_schema() ORDER BY table_name
