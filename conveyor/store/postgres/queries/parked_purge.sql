-- Tickets of workers whose session is gone (killed while parked): nobody takes them, as the
-- hand-off skips them, but they would pile up. The shared try-lock succeeds only on those.
DELETE FROM conveyor_parked WHERE pg_try_advisory_xact_lock_shared(lock_key)
