INSERT INTO conveyor_batches (batch_id, total, max_concurrency, fail_on_child_failure) VALUES (?, ?, ?, ?)
