-- Used only when limits exist (under limits_lock.sql): the due jobs in claim order, minus keys
-- already at their limit.
SELECT id, queue, job_type FROM conveyor_jobs
WHERE status = 'pending'
  AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
  AND queue <> ALL(%(skip_queues)s::text[])
  AND job_type <> ALL(%(skip_types)s::text[])
ORDER BY priority DESC, id
LIMIT %(limit)s
