-- Used only when limits exist: the due jobs in claim order, minus keys already at their limit.
SELECT id, queue, job_type FROM conveyor_jobs INDEXED BY conveyor_jobs_pending_any
WHERE status = 'pending'
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND queue NOT IN (SELECT value FROM json_each(:skip_queues))
  AND job_type NOT IN (SELECT value FROM json_each(:skip_types))
ORDER BY priority DESC, id
LIMIT :limit
