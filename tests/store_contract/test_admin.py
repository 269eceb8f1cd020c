"""Contract: admin actions — cancel, retry, retry_failed, delete, purge (logs go too) — and stats."""

from __future__ import annotations

from conveyor.job import LogEntry
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import (
    JobCancel,
    JobDelete,
    JobGet,
    JobHeartbeat,
    JobList,
    JobPurge,
    JobRetry,
    JobRetryFailed,
    LogInsert,
    LogList,
    StatsRead,
)
from tests.store_contract.conftest import (
    NOW,
    claim,
    claim_one,
    finish,
    get,
    insert,
    new_job,
)

ERROR = {"code": "X", "message": "bad", "details": {}}


def failed_job(store: Store, **overrides: object) -> str:
    [(job, _)] = insert(store, new_job(**overrides))
    [c] = [c for c in claim(store, limit=100).jobs if c.job_id == job.job_id]
    finish(store, Transition(c, JobStatus.FAILED, error=ERROR))
    return job.job_id


def test_cancel_every_unfinished_status(store: Store) -> None:
    pending, scheduled, running = new_job(), new_job(run_at=NOW + 100), new_job(priority=10)
    insert(store, pending, scheduled, running)
    claimed = claim_one(store)
    assert claimed.job_id == running.job_id
    for job in (pending, scheduled, running):
        cancelled = store.job_cancel(JobCancel(job.job_id, NOW + 2, reason="user asked"))
        assert cancelled is not None and cancelled.status is JobStatus.CANCELLED, job
        assert cancelled.finished_at_ts == NOW + 2 and cancelled.lease_expires_at_ts is None
        assert cancelled.error == {"code": "CANCELLED", "message": "user asked", "details": {}}
    # The running attempt lost its job: its heartbeat says so and its outcome is refused.
    lost = store.job_heartbeat(JobHeartbeat(claimed.worker_id, (claimed.job_id,), NOW + 3, 30.0))
    assert lost == [claimed.job_id]
    assert finish(store, Transition(claimed, JobStatus.COMPLETED, results=1)) == []
    assert get(store, running.job_id).status is JobStatus.CANCELLED


def test_cancel_a_waiting_job(store: Store) -> None:
    dependency = new_job()
    insert(store, dependency)
    waiting = new_job(status=JobStatus.WAITING, depends_on=(dependency.job_id,))
    insert(store, waiting)
    cancelled = store.job_cancel(JobCancel(waiting.job_id, NOW + 2, reason="user asked"))
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    assert get(store, dependency.job_id).status is JobStatus.PENDING


def test_cancel_a_finished_or_unknown_job_changes_nothing(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    finish(store, Transition(c, JobStatus.COMPLETED, results={"r": 1}), now=NOW + 3)
    job = store.job_cancel(JobCancel(c.job_id, NOW + 9))
    assert job is not None and job.status is JobStatus.COMPLETED and job.finished_at_ts == NOW + 3
    assert job.results == {"r": 1} and job.error is None
    assert store.job_cancel(JobCancel("no-such-job", NOW)) is None


def test_retry_failed_or_cancelled_resets_the_job(store: Store) -> None:
    job_id = failed_job(store)
    retried = store.job_retry(JobRetry(job_id, NOW + 50))
    assert retried is not None and retried.status is JobStatus.PENDING
    assert (retried.attempt, retried.crashes) == (0, 0)
    assert (retried.error, retried.results, retried.progress) == (None, None, None)
    assert (retried.run_at_ts, retried.started_at_ts, retried.finished_at_ts) == (NOW + 50, None, None)
    assert claim_one(store, now=NOW + 50).attempt == 1
    [(other, _)] = insert(store, new_job())
    store.job_cancel(JobCancel(other.job_id, NOW))
    again = store.job_retry(JobRetry(other.job_id, NOW + 1))
    assert again is not None and again.status is JobStatus.PENDING


def test_retry_refuses_unfinished_and_completed_jobs(store: Store) -> None:
    [(pending, _)] = insert(store, new_job())
    job = store.job_retry(JobRetry(pending.job_id, NOW))
    assert job is not None and job.status is JobStatus.PENDING and job.run_at_ts == NOW
    c = claim_one(store)
    finish(store, Transition(c, JobStatus.COMPLETED, results=1))
    done = store.job_retry(JobRetry(c.job_id, NOW + 5))
    assert done is not None and done.status is JobStatus.COMPLETED
    assert store.job_retry(JobRetry("no-such-job", NOW)) is None


def test_retry_failed_in_bulk_with_filters(store: Store) -> None:
    a = failed_job(store, job_type="a", queue="q1")
    b = failed_job(store, job_type="b", queue="q1")
    c = failed_job(store, job_type="a", queue="q2")
    [(cancelled, _)] = insert(store, new_job(job_type="a"))
    store.job_cancel(JobCancel(cancelled.job_id, NOW))
    assert store.job_retry_failed(JobRetryFailed(NOW, job_type="a", queue="q2")) == 1
    assert get(store, c).status is JobStatus.PENDING
    assert store.job_retry_failed(JobRetryFailed(NOW, job_type="zzz")) == 0
    assert store.job_retry_failed(JobRetryFailed(NOW)) == 2
    assert {get(store, x).status for x in (a, b)} == {JobStatus.PENDING}
    assert get(store, cancelled.job_id).status is JobStatus.CANCELLED  # only failed ones


def test_delete_removes_the_job_and_its_logs_but_never_a_running_one(store: Store) -> None:
    keep, gone = new_job(priority=10), new_job()
    insert(store, keep, gone)
    running = claim_one(store)
    assert running.job_id == keep.job_id
    for job_id in (keep.job_id, gone.job_id):
        store.log_insert(LogInsert(job_id, (LogEntry(NOW, "info", "hello"),)))  # type: ignore[arg-type]
    assert store.job_delete(JobDelete(gone.job_id)) is True
    assert store.job_get(JobGet(gone.job_id)) is None and store.log_list(LogList(gone.job_id)) == []
    assert store.job_delete(JobDelete(keep.job_id)) is False
    assert get(store, keep.job_id).status is JobStatus.RUNNING
    assert store.log_list(LogList(keep.job_id)) == [LogEntry(NOW, "info", "hello")]
    assert store.job_delete(JobDelete("no-such-job")) is False


def test_purge_deletes_old_finished_jobs_with_their_logs(store: Store) -> None:
    insert(store, *[new_job(parameters={"i": i}) for i in range(4)], new_job(job_type="unfinished"))
    old_done, old_failed, recent, old_cancelled = claim(store, limit=4).jobs
    finish(store, Transition(old_done, JobStatus.COMPLETED, results=1), now=NOW + 10)
    finish(store, Transition(old_failed, JobStatus.FAILED, error=ERROR), now=NOW + 10)
    finish(store, Transition(recent, JobStatus.COMPLETED, results=1), now=NOW + 100)
    finish(store, Transition(old_cancelled, JobStatus.PENDING, run_at=NOW, release=True), now=NOW + 10)
    store.job_cancel(JobCancel(old_cancelled.job_id, NOW + 10))
    for c in (old_done, old_failed, recent, old_cancelled):
        store.log_insert(LogInsert(c.job_id, (LogEntry(NOW, "info", "x"),)))
    only_failed = store.job_purge(JobPurge(finished_before=NOW + 50, statuses=(JobStatus.FAILED,)))
    assert only_failed == 1 and store.job_get(JobGet(old_failed.job_id)) is None
    assert store.job_purge(JobPurge(finished_before=NOW + 50)) == 2
    for c in (old_done, old_failed, old_cancelled):
        assert store.job_get(JobGet(c.job_id)) is None and store.log_list(LogList(c.job_id)) == []
    assert get(store, recent.job_id).status is JobStatus.COMPLETED
    assert len(store.log_list(LogList(recent.job_id))) == 1
    assert store.job_purge(JobPurge(finished_before=NOW + 10_000)) == 1  # `recent`; never the unfinished one
    assert [j.job_type for j in store.job_list(JobList()).jobs] == ["unfinished"]


def test_stats_durations_mean_and_p95_over_the_window(store: Store) -> None:
    """31 completed jobs of 1..31 s: the mean, and the p95 as the sorted durations' entry at
    round(0.95 × 30) = 28 (Python rounds 28.5 to even), which the store reads without sending
    every duration; jobs finished before the window count for neither."""
    insert(store, *[new_job() for _ in range(33)])
    for seconds in [*range(31, 0, -1), 0.25, 0.25]:  # the last two finish before the window opens
        [job] = claim(store, limit=1, now=NOW).jobs
        finish(store, Transition(job, JobStatus.COMPLETED, results=None), now=NOW + seconds)
    stats = store.stats_read(StatsRead(NOW + 100, window_seconds=99.5))
    assert stats["completed_in_window"] == 31
    assert stats["avg_duration_sec"] == 16.0
    assert stats["p95_duration_sec"] == sorted(range(1, 32))[round(0.95 * 30)] == 29.0


def test_stats_shape_and_numbers(store: Store) -> None:
    empty = store.stats_read(StatsRead(NOW))
    assert empty["total_jobs"] == 0 and set(empty["by_status"]) == {s.value for s in JobStatus}
    assert empty["success_rate"] is None and empty["avg_duration_sec"] is None and empty["p95_duration_sec"] is None
    insert(store, *[new_job(job_type="a", queue="q1") for _ in range(3)], new_job(job_type="b", queue="q2"),
           new_job(job_type="b", queue="q2", run_at=NOW + 500))
    a1, a2, a3, b1 = claim(store, limit=4).jobs
    finish(store, Transition(a1, JobStatus.COMPLETED, results=1), now=NOW + 2)
    finish(store, Transition(a2, JobStatus.COMPLETED, results=1), now=NOW + 4)
    finish(store, Transition(a3, JobStatus.FAILED, error=ERROR), now=NOW + 5)
    [(pending, _)] = insert(store, new_job(job_type="c", queue="q1", run_at=NOW - 30))
    stats = store.stats_read(StatsRead(NOW + 10, window_seconds=60))
    assert stats["total_jobs"] == 6
    assert stats["by_status"] == {"waiting": 0, "scheduled": 1, "pending": 1, "running": 1, "completed": 2,
                                  "failed": 1, "cancelled": 0}
    assert stats["by_queue"]["q1"] == {"total": 4, "completed": 2, "failed": 1, "pending": 1}
    assert stats["by_type"]["b"] == {"total": 2, "running": 1, "scheduled": 1}
    assert stats["success_rate"] == 2 / 3
    assert stats["avg_duration_sec"] == 3.0 and stats["p95_duration_sec"] == 4.0
    assert stats["completed_in_window"] == 2 and stats["failed_in_window"] == 1
    assert stats["oldest_pending_age_sec"] == 40.0
    assert b1.job_type == "b" and pending.status is JobStatus.PENDING
    later = store.stats_read(StatsRead(NOW + 1000, window_seconds=60))
    assert later["completed_in_window"] == 0 and later["avg_duration_sec"] is None
