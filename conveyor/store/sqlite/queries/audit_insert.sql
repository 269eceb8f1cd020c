INSERT INTO conveyor_audit_log (at, actor, action, job_ids, details)
VALUES (:at, :actor, :action, :job_ids, :details)
RETURNING id
