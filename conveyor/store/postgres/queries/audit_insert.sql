INSERT INTO conveyor_audit_log (at, actor, action, job_ids, details)
VALUES (%(at)s, %(actor)s, %(action)s, %(job_ids)s::json, %(details)s::json)
RETURNING id
