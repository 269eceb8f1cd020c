SELECT id, at, actor, action, job_ids, details FROM conveyor_audit_log
WHERE (%(cursor)s::bigint IS NULL OR id < %(cursor)s::bigint)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s::text)
  AND (%(action)s::text IS NULL OR action = %(action)s::text)
  AND (%(job_id)s::text IS NULL OR EXISTS (
      SELECT 1 FROM json_array_elements_text(conveyor_audit_log.job_ids) AS v WHERE v = %(job_id)s::text))
ORDER BY id DESC
LIMIT %(limit)s
