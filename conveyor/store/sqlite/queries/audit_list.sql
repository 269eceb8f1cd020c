SELECT id, at, actor, action, job_ids, details FROM conveyor_audit_log
WHERE (:cursor IS NULL OR id < :cursor)
  AND (:actor IS NULL OR actor = :actor)
  AND (:action IS NULL OR action = :action)
  AND (:job_id IS NULL OR EXISTS (SELECT 1 FROM json_each(conveyor_audit_log.job_ids) WHERE value = :job_id))
ORDER BY id DESC
LIMIT :limit
