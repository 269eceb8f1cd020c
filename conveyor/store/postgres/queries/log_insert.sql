INSERT INTO conveyor_job_logs (job_id, timestamp, level, message)
SELECT %(job_id)s, t.timestamp, t.level, t.message
FROM unnest(%(timestamp)s::double precision[], %(level)s::text[], %(message)s::text[]) AS t (timestamp, level, message)
