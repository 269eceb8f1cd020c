"""Store contract: the webhook outbox. Callbacks are written in the state change's transaction, with
SPEC §5 payloads; progress is coalesced; claims lease only the head of each job's line; outcomes
are fenced by (owner, attempt); expired leases are re-claimed (at-least-once)."""

from __future__ import annotations

import json
from typing import Any

from conveyor.job import ClaimedJob, JobId, WorkerId
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import (
    JobCancel,
    JobClaim,
    JobDelete,
    JobFinish,
    JobGet,
    JobInsert,
    JobProgress,
    JobPurge,
    JobRescue,
    JobRetry,
    WebhookClaim,
    WebhookList,
    WebhookRecord,
)
from conveyor.webhooks import DeliveryState, WebhookDelivery
from tests.store_contract.conftest import NOW, new_job

W = WorkerId("worker-1")
HOOK = {"url": "http://receiver.test/hook", "token": "tok", "jobId": "client-1"}


def running(store: Store, webhook: dict[str, Any] | None = HOOK, **overrides: Any) -> ClaimedJob:
    job = new_job(webhook=webhook, **overrides)
    store.job_insert(JobInsert((job,)))
    claimed = store.job_claim(JobClaim(W, None, 1, NOW, 30.0)).jobs
    assert [c.job_id for c in claimed] == [job.job_id]
    return claimed[0]


def progress(store: Store, job: ClaimedJob, percent: float, message: str, now: float = NOW) -> bool:
    p = {"step": "s", "percent": percent, "message": message}
    return store.job_progress(JobProgress(job.job_id, job.attempt, job.worker_id, p, now=now))


def finish(store: Store, *transitions: Transition, now: float = NOW) -> list[JobId]:
    return store.job_finish(JobFinish(tuple(transitions), now))


def outbox(store: Store, job_id: str) -> list[WebhookDelivery]:
    return store.webhook_list(WebhookList(job_id))


def claim(store: Store, now: float = NOW, owner: str = "d1", limit: int = 10, interval: float = 0.0,
          lease: float = 30.0) -> list[WebhookDelivery]:
    return store.webhook_claim(WebhookClaim(owner, limit, now, lease, interval))


def deliver(store: Store, d: WebhookDelivery, owner: str = "d1", now: float = NOW) -> bool:
    return store.webhook_record(WebhookRecord(d.delivery_id, owner, d.attempts, DeliveryState.DELIVERED, now,
                                              last_status=200))


def test_completion_writes_one_callback_with_the_spec_payload(store: Store) -> None:
    job = running(store)
    plain = running(store, webhook=None)
    assert finish(store, Transition(job, JobStatus.COMPLETED, results={"text": "hi"}),
                  Transition(plain, JobStatus.COMPLETED, results=1)) == [job.job_id, plain.job_id]
    [d] = outbox(store, job.job_id)
    assert outbox(store, plain.job_id) == []
    payload = json.loads(d.payload)
    assert payload == {"phase": "completed", "message": "Processing completed", "data": {"text": "hi"},
                       "jobId": "client-1"}
    assert list(payload) == ["phase", "message", "data", "jobId"]
    assert (d.event, d.url, d.token, d.state, d.attempts) == ("completed", HOOK["url"], "tok", DeliveryState.PENDING, 0)
    assert d.created_at == NOW and d.next_attempt_at == NOW and d.finished_at is None
    assert len(d.delivery_id) >= 16


def test_failure_cancel_and_quarantine_write_failed_callbacks(store: Store) -> None:
    error = {"code": "BAD_INPUT", "message": "not a PDF", "details": {"f": "x"}}
    job = running(store, webhook={"url": "http://r.test/", "jobId": 5})
    finish(store, Transition(job, JobStatus.FAILED, error=error))
    [d] = outbox(store, job.job_id)
    assert json.loads(d.payload) == {"phase": "failed", "message": "not a PDF", "error": error, "jobId": 5}
    assert d.token is None

    waiting = new_job(webhook=HOOK, run_at=NOW + 3600)
    store.job_insert(JobInsert((waiting,)))
    store.job_cancel(JobCancel(waiting.job_id, NOW, "no longer needed"))
    store.job_cancel(JobCancel(waiting.job_id, NOW, "again"))  # already cancelled: nothing new
    [c] = outbox(store, waiting.job_id)
    assert json.loads(c.payload) == {
        "phase": "failed", "message": "no longer needed",
        "error": {"code": "CANCELLED", "message": "no longer needed", "details": {}}, "jobId": "client-1",
    }

    crashed = running(store, max_crashes=1)
    result = store.job_rescue_expired(JobRescue(NOW + 31))
    assert result.quarantined == [crashed.job_id]
    [q] = outbox(store, crashed.job_id)
    assert q.event == "failed" and json.loads(q.payload)["error"]["code"] == "WORKER_CRASHED"


def test_only_the_job_a_call_ends_calls_back(store: Store) -> None:
    dep = running(store)
    dependent = new_job(webhook=HOOK, status=JobStatus.WAITING, depends_on=(dep.job_id,))
    store.job_insert(JobInsert((dependent,)))
    finish(store, Transition(dep, JobStatus.FAILED, error={"code": "E", "message": "m", "details": {}}))
    assert [d.event for d in outbox(store, dep.job_id)] == ["failed"]
    assert store.job_get(JobGet(dependent.job_id)).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert outbox(store, dependent.job_id) == []  # cancelled by the cascade, not by a call
    late = new_job(webhook=HOOK, status=JobStatus.WAITING, depends_on=(dep.job_id,))
    [(job, _)] = store.job_insert(JobInsert((late,)))
    assert job.status is JobStatus.CANCELLED and outbox(store, late.job_id) == []  # cancelled at enqueue


def test_no_callback_for_retries_or_fenced_out_writes(store: Store) -> None:
    job = running(store)
    finish(store, Transition(job, JobStatus.SCHEDULED, error={"code": "E", "message": "m", "details": {}},
                             run_at=NOW + 3600))
    assert outbox(store, job.job_id) == []
    rescued = running(store, max_crashes=3)
    store.job_rescue_expired(JobRescue(NOW + 31))  # requeued, not terminal
    assert outbox(store, rescued.job_id) == []
    # The old attempt lost its lease: its writes are fenced out, and so are their callbacks.
    again = store.job_claim(JobClaim(WorkerId("worker-2"), None, 1, NOW + 32, 30.0)).jobs[0]
    assert again.job_id == rescued.job_id and again.attempt == 2
    assert not progress(store, rescued, 50, "stale")
    assert finish(store, Transition(rescued, JobStatus.COMPLETED, results=1)) == []
    assert outbox(store, rescued.job_id) == []
    assert progress(store, again, 50, "fresh")
    assert [d.event for d in outbox(store, rescued.job_id)] == ["processing"]


def test_progress_callbacks_coalesce_until_tried(store: Store) -> None:
    job = running(store)
    plain = running(store, webhook=None)
    assert progress(store, plain, 10, "no webhook")
    assert outbox(store, plain.job_id) == []
    for pct in (10, 20, 30):
        assert progress(store, job, pct, f"at {pct}")
    [d] = outbox(store, job.job_id)
    payload = json.loads(d.payload)
    assert payload == {"phase": "processing", "progress": 30, "message": "at 30", "process": {"id": job.job_id},
                       "jobId": "client-1"}
    assert list(payload) == ["phase", "progress", "message", "process", "jobId"]
    [sent] = claim(store)
    assert sent.delivery_id == d.delivery_id and sent.attempts == 1
    progress(store, job, 40, "at 40")  # the first one is out: a new callback, then coalescing again
    progress(store, job, 50, "at 50")
    rows = outbox(store, job.job_id)
    assert [json.loads(r.payload)["progress"] for r in rows] == [30, 50]
    assert rows[0].delivery_id == d.delivery_id  # a tried callback is never rewritten


def test_claim_takes_only_the_head_of_each_jobs_line_in_order(store: Store) -> None:
    a, b = running(store), running(store)
    progress(store, a, 10, "a")
    progress(store, b, 10, "b")
    finish(store, Transition(a, JobStatus.COMPLETED, results="a"), Transition(b, JobStatus.COMPLETED, results="b"))
    first = claim(store)
    assert sorted(d.job_id for d in first) == sorted([a.job_id, b.job_id])
    assert {d.event for d in first} == {"processing"}
    assert claim(store) == []  # the completions wait behind their in-flight progress
    for d in first:
        assert deliver(store, d)
    second = claim(store)
    assert {d.event for d in second} == {"completed"} and len(second) == 2
    assert claim(store, now=NOW + 10) == []  # leased


def test_lease_fencing_and_reclaim_after_a_crash(store: Store) -> None:
    job = running(store)
    finish(store, Transition(job, JobStatus.COMPLETED, results=1))
    [d] = claim(store, owner="d1", lease=10)
    assert claim(store, owner="d2", now=NOW + 5) == []  # another dispatcher cannot take it
    [again] = claim(store, owner="d2", now=NOW + 11)  # d1 died: its lease expired
    assert again.delivery_id == d.delivery_id and again.attempts == 2
    assert not deliver(store, d, owner="d1")  # the old owner's outcome is refused
    assert deliver(store, again, owner="d2", now=NOW + 12)
    [row] = outbox(store, job.job_id)
    assert (row.state, row.attempts, row.last_status, row.finished_at) == (DeliveryState.DELIVERED, 2, 200, NOW + 12)
    assert not deliver(store, again, owner="d2")  # once


def test_retry_backoff_dead_and_next_due(store: Store) -> None:
    assert store.webhook_next_due() is None
    job = running(store)
    finish(store, Transition(job, JobStatus.COMPLETED, results=1))
    assert store.webhook_next_due() == NOW
    [d] = claim(store)
    retry = WebhookRecord(d.delivery_id, "d1", 1, DeliveryState.PENDING, NOW + 1, next_attempt_at=NOW + 4,
                          last_status=503, last_error="HTTP 503")
    assert store.webhook_record(retry)
    [row] = outbox(store, job.job_id)
    assert (row.state, row.last_status, row.last_error, row.next_attempt_at) == (
        DeliveryState.PENDING, 503, "HTTP 503", NOW + 4)
    assert store.webhook_next_due() == NOW + 4
    assert claim(store, now=NOW + 3) == []
    [d2] = claim(store, now=NOW + 4)
    dead = WebhookRecord(d2.delivery_id, "d1", 2, DeliveryState.DEAD, NOW + 5, last_error="timed out")
    assert store.webhook_record(dead)
    [row] = outbox(store, job.job_id)
    assert (row.state, row.attempts, row.finished_at, row.last_error) == (DeliveryState.DEAD, 2, NOW + 5, "timed out")
    assert store.webhook_next_due() is None


def test_dead_callbacks_do_not_block_the_next_ones(store: Store) -> None:
    job = running(store)
    progress(store, job, 10, "p")
    finish(store, Transition(job, JobStatus.COMPLETED, results=1))
    [p] = claim(store)
    store.webhook_record(WebhookRecord(p.delivery_id, "d1", 1, DeliveryState.DEAD, NOW, last_error="gone"))
    [c] = claim(store)
    assert c.event == "completed"


def test_progress_interval_holds_progress_unless_something_follows(store: Store) -> None:
    job = running(store)
    progress(store, job, 10, "p1")
    [p1] = claim(store, interval=1.0)
    deliver(store, p1)
    progress(store, job, 20, "p2", now=NOW + 0.1)
    assert claim(store, now=NOW + 0.5, interval=1.0) == []  # too soon after p1 was sent
    [p2] = claim(store, now=NOW + 1.0, interval=1.0)
    assert json.loads(p2.payload)["progress"] == 20
    deliver(store, p2)
    progress(store, job, 30, "p3", now=NOW + 1.1)
    finish(store, Transition(job, JobStatus.COMPLETED, results=1), now=NOW + 1.2)
    [p3] = claim(store, now=NOW + 1.2, interval=1.0)  # the completion behind it flushes it now
    assert json.loads(p3.payload)["progress"] == 30


def test_progress_of_a_new_run_never_joins_a_callback_before_the_old_runs_end(store: Store) -> None:
    job = running(store)
    progress(store, job, 10, "run 1")
    finish(store, Transition(job, JobStatus.FAILED, error={"code": "E", "message": "m", "details": {}}))
    store.job_retry(JobRetry(job.job_id, NOW))
    rerun = store.job_claim(JobClaim(W, None, 1, NOW, 30.0)).jobs[0]
    progress(store, rerun, 99, "run 2")
    rows = outbox(store, job.job_id)
    seen = [(r.event, json.loads(r.payload).get("progress")) for r in rows]
    assert seen == [("processing", 10), ("failed", None)] or seen[:3] == [
        ("processing", 10), ("failed", None), ("processing", 99)]


def test_delete_and_purge_remove_callbacks(store: Store) -> None:
    a, b = running(store), running(store)
    finish(store, Transition(a, JobStatus.COMPLETED, results=1), Transition(b, JobStatus.COMPLETED, results=2))
    assert store.job_delete(JobDelete(a.job_id))
    assert outbox(store, a.job_id) == []
    assert store.job_purge(JobPurge(finished_before=NOW + 1)) == 1
    assert outbox(store, b.job_id) == []
    assert store.job_get(JobGet(b.job_id)) is None
    assert store.webhook_next_due() is None
