INSERT INTO conveyor_batches (batch_id, total, max_concurrency, fail_on_child_failure)
SELECT * FROM unnest(
    %(batch_id)s::text[], %(total)s::integer[], %(max_concurrency)s::integer[], %(fail_on_child_failure)s::boolean[])
