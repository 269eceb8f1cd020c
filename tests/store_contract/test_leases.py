"""Contract: heartbeats, lease expiry and rescue (crash counting, quarantine), and the fenced
writes of a running attempt (progress, checkpoint)."""

from __future__ import annotations

import dataclasses

from conveyor.job import WorkerId
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import JobCancel, JobCheckpoint, JobHeartbeat, JobProgress, JobRescue
from tests.store_contract.conftest import NOW, claim, claim_one, finish, get, insert, new_job


def beat(store: Store, worker: str, *job_ids: str, now: float = NOW + 5, lease: float = 30.0) -> list[str]:
    return store.job_heartbeat(JobHeartbeat(WorkerId(worker), tuple(job_ids), now, lease))  # type: ignore[arg-type]


def test_heartbeat_extends_every_lease_of_the_worker(store: Store) -> None:
    insert(store, new_job(), new_job(), new_job())
    a, b = claim(store, worker="w1", limit=2, lease=10).jobs
    c = claim_one(store, worker="w2", lease=10)
    assert beat(store, "w1", a.job_id, b.job_id, now=NOW + 8, lease=10) == []
    assert get(store, a.job_id).lease_expires_at_ts == NOW + 18
    assert get(store, b.job_id).lease_expires_at_ts == NOW + 18
    assert get(store, c.job_id).lease_expires_at_ts == NOW + 10  # another worker's job: untouched


def test_heartbeat_reports_jobs_the_worker_no_longer_owns(store: Store) -> None:
    insert(store, new_job(), new_job(), new_job())
    a, b, c = claim(store, worker="w1", lease=10).jobs
    store.job_cancel(JobCancel(b.job_id, NOW + 1))
    finish(store, Transition(c, JobStatus.COMPLETED, results=1))
    assert beat(store, "w1", a.job_id, b.job_id, c.job_id, "never-claimed") == [b.job_id, c.job_id, "never-claimed"]
    assert beat(store, "w2", a.job_id) == [a.job_id]


def test_heartbeat_renews_only_the_jobs_the_worker_names(store: Store) -> None:
    """A job claimed in the worker's name that the worker never heard of (its claim's answer was
    lost with the connection) is not renewed: it expires and is rescued while the worker lives on."""
    insert(store, new_job(), new_job())
    known, orphan = claim(store, worker="w1", limit=2, lease=10).jobs
    for t in (8, 16):
        assert beat(store, "w1", known.job_id, now=NOW + t, lease=10) == []
    assert get(store, known.job_id).lease_expires_at_ts == NOW + 26
    assert get(store, orphan.job_id).lease_expires_at_ts == NOW + 10
    assert store.job_rescue_expired(JobRescue(NOW + 17)).requeued == [orphan.job_id]
    assert get(store, known.job_id).status is JobStatus.RUNNING


def test_next_lease_expiry(store: Store) -> None:
    assert store.job_next_lease_expiry() is None
    insert(store, new_job(), new_job())
    claim_one(store, worker="w1", lease=50)
    claim_one(store, worker="w2", lease=20, now=NOW + 1)
    assert store.job_next_lease_expiry() == NOW + 21


def test_rescue_requeues_expired_leases_and_counts_a_crash(store: Store) -> None:
    insert(store, new_job(), new_job())
    dead = claim_one(store, worker="dead", lease=10)
    alive = claim_one(store, worker="alive", lease=100)
    assert store.job_rescue_expired(JobRescue(NOW + 10)).requeued == []  # expiring now is not expired yet
    result = store.job_rescue_expired(JobRescue(NOW + 10.5))
    assert result.requeued == [dead.job_id] and result.quarantined == []
    job = get(store, dead.job_id)
    assert (job.status, job.crashes, job.attempt, job.run_at_ts) == (JobStatus.PENDING, 1, 1, NOW + 10.5)
    assert (job.worker_id, job.lease_expires_at_ts, job.finished_at_ts) == (None, None, None)
    assert get(store, alive.job_id).status is JobStatus.RUNNING
    assert store.job_rescue_expired(JobRescue(NOW + 11)).requeued == []  # nothing left to rescue
    assert claim_one(store, now=NOW + 11).attempt == 2


def test_a_heartbeating_worker_is_never_rescued(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store, lease=10)
    for t in range(8, 200, 8):
        assert beat(store, "w1", c.job_id, now=NOW + t, lease=10) == []
        assert store.job_rescue_expired(JobRescue(NOW + t + 1)).requeued == []
    assert get(store, c.job_id).status is JobStatus.RUNNING


def test_quarantine_after_max_crashes(store: Store) -> None:
    [(job, _)] = insert(store, new_job(max_crashes=2, max_attempts=10))
    now = NOW
    claim_one(store, worker="w1", lease=5, now=now)
    assert store.job_rescue_expired(JobRescue(now + 6)).requeued == [job.job_id]
    claim_one(store, worker="w2", lease=5, now=now + 7)
    result = store.job_rescue_expired(JobRescue(now + 13))
    assert result.requeued == [] and result.quarantined == [job.job_id]
    failed = get(store, job.job_id)
    assert failed.status is JobStatus.FAILED and failed.crashes == 2 and failed.finished_at_ts == now + 13
    assert failed.error is not None and failed.error["code"] == "WORKER_CRASHED"
    assert failed.error["details"] == {"crashes": 2, "last_worker_id": "w2"}
    assert "2 times" in failed.error["message"]
    assert claim(store, now=now + 100).jobs == []


def test_progress_is_fenced(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store, worker="w1")
    progress = {"step": "reading", "percent": 25, "message": "Reading file"}
    assert store.job_progress(JobProgress(c.job_id, c.attempt, c.worker_id, progress)) is True
    assert get(store, c.job_id).progress == progress
    assert store.job_progress(JobProgress(c.job_id, c.attempt, WorkerId("w2"), {"percent": 99})) is False
    assert store.job_progress(JobProgress(c.job_id, c.attempt + 1, c.worker_id, {"percent": 99})) is False
    assert store.job_progress(JobProgress("unknown", 1, c.worker_id, {"percent": 99})) is False  # type: ignore[arg-type]
    finish(store, Transition(c, JobStatus.COMPLETED, results=None))
    assert store.job_progress(JobProgress(c.job_id, c.attempt, c.worker_id, {"percent": 99})) is False
    assert get(store, c.job_id).progress == progress


def test_checkpoint_is_fenced_and_handed_to_the_next_attempt(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store, worker="w1", lease=10)
    assert store.job_checkpoint(JobCheckpoint(c.job_id, c.attempt, c.worker_id, {"page": 7})) is True
    assert store.job_checkpoint(JobCheckpoint(c.job_id, c.attempt, WorkerId("w2"), {"page": 99})) is False
    stale = dataclasses.replace(c, attempt=0)
    assert store.job_checkpoint(JobCheckpoint(stale.job_id, stale.attempt, c.worker_id, {"page": 99})) is False
    assert get(store, c.job_id).checkpoint == {"page": 7}
    store.job_rescue_expired(JobRescue(NOW + 11))
    again = claim_one(store, worker="w2", now=NOW + 12)
    assert again.attempt == 2 and again.checkpoint == {"page": 7}
    assert store.job_checkpoint(JobCheckpoint(c.job_id, c.attempt, c.worker_id, {"page": 8})) is False
    assert store.job_checkpoint(JobCheckpoint(again.job_id, again.attempt, again.worker_id, [1, 2])) is True
    assert get(store, c.job_id).checkpoint == [1, 2]
