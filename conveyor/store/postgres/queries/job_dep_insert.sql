INSERT INTO conveyor_job_deps (depends_on_id, job_id)
SELECT * FROM unnest(%(depends_on_id)s::text[], %(job_id)s::text[])
ON CONFLICT DO NOTHING
