-- Conveyor schema v8 (SQLite; PostgreSQL's 0008): a batch parent's progress is written only when
-- its shown percent (one decimal) moves, as on PostgreSQL, where each write is a new version of the
-- parent row that the next child of the batch waits for: still at every child of a batch of up to
-- 1,000, every tenth of 10,000. The message ("k of n finished") is then up to 0.1% behind between
-- two writes; the end state is unchanged. The trigger is otherwise 0004's.
DROP TRIGGER conveyor_batch_child_done;
CREATE TRIGGER conveyor_batch_child_done AFTER UPDATE OF status ON conveyor_jobs
WHEN NEW.parent_id IS NOT NULL
     AND NEW.status IN ('completed', 'failed', 'cancelled')
     AND OLD.status NOT IN ('completed', 'failed', 'cancelled')
BEGIN
    UPDATE conveyor_batches
    SET completed = completed + (NEW.status = 'completed'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled')
    WHERE batch_id = NEW.parent_id;
    -- Only a child that took a slot frees one (cancelling a child still held frees none).
    UPDATE conveyor_jobs SET status = 'pending', held = 0, run_at = COALESCE(NEW.finished_at, run_at)
    WHERE OLD.status != 'waiting'
      AND id = (SELECT id FROM conveyor_jobs INDEXED BY conveyor_jobs_held
                WHERE parent_id = NEW.parent_id AND held = 1 AND status = 'waiting'
                ORDER BY priority DESC, id LIMIT 1);
    UPDATE conveyor_jobs
    SET progress = COALESCE((
            SELECT json_object(
                'step', 'children',
                'percent', round(100.0 * (completed + failed + cancelled) / total, 1),
                'message', (completed + failed + cancelled) || ' of ' || total || ' finished')
            FROM conveyor_batches WHERE batch_id = NEW.parent_id
              AND (completed + failed + cancelled >= total
                   OR round(100.0 * (completed + failed + cancelled) / total, 1)
                      <> round(100.0 * (completed + failed + cancelled - 1) / total, 1))),
            progress),
        status = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT CASE WHEN fail_on_child_failure AND failed + cancelled > 0 THEN 'failed' ELSE 'completed' END
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE status END,
        error = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total AND fail_on_child_failure AND failed + cancelled > 0
                FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT json_object('code', 'WORKFLOW_FAILED',
                                     'message', failed || ' step(s) failed, ' || cancelled || ' cancelled',
                                     'details', json_object('failed', failed, 'cancelled', cancelled))
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE error END,
        finished_at = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN COALESCE(NEW.finished_at, (julianday('now') - 2440587.5) * 86400.0) ELSE finished_at END,
        results = CASE WHEN status = 'waiting' AND (
                SELECT completed + failed + cancelled >= total FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            THEN (SELECT json_object(
                    'total', total, 'completed', completed, 'failed', failed, 'cancelled', cancelled,
                    'child_ids', (SELECT json_group_array(job_id) FROM (
                        SELECT job_id FROM conveyor_jobs WHERE parent_id = NEW.parent_id ORDER BY id)))
                  FROM conveyor_batches WHERE batch_id = NEW.parent_id)
            ELSE results END
    WHERE job_id = NEW.parent_id AND EXISTS (SELECT 1 FROM conveyor_batches WHERE batch_id = NEW.parent_id);
END;
