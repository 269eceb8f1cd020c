-- Withdraw a worker's ticket. It waits for an enqueue that holds the ticket to commit: no row
-- then means that enqueue handed its job over, and its wake-up is on the way.
DELETE FROM conveyor_parked WHERE worker_id = %(worker_id)s
