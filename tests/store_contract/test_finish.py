"""Contract: job_finish — the fenced transitions out of running, one by one or many at once."""

from __future__ import annotations

import dataclasses

from conveyor.job import WorkerId
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import JobRescue
from tests.store_contract.conftest import NOW, claim, claim_one, finish, get, insert, new_job

ERROR = {"code": "HANDLER_ERROR", "message": "boom", "details": {"exception_type": "ValueError"}}


def test_complete_records_results_and_clears_the_lease(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    done = Transition(c, JobStatus.COMPLETED, results={"text": "ok", "n": [1, 2]})
    assert finish(store, done, now=NOW + 4) == [c.job_id]
    job = get(store, c.job_id)
    assert job.status is JobStatus.COMPLETED and job.results == {"text": "ok", "n": [1, 2]}
    assert (job.finished_at_ts, job.started_at_ts, job.attempt) == (NOW + 4, NOW, 1)
    assert (job.worker_id, job.lease_expires_at_ts, job.error) == (None, None, None)


def test_results_may_be_any_json_value(store: Store) -> None:
    insert(store, new_job(), new_job(), new_job())
    a, b, c = claim(store).jobs
    finish(store, *(Transition(j, JobStatus.COMPLETED, results=r) for j, r in ((a, None), (b, [1, "x"]), (c, "text"))))
    assert [get(store, j.job_id).results for j in (a, b, c)] == [None, [1, "x"], "text"]


def test_fail_records_the_error(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    assert finish(store, Transition(c, JobStatus.FAILED, error=ERROR)) == [c.job_id]
    job = get(store, c.job_id)
    assert job.status is JobStatus.FAILED and job.error == ERROR and job.finished_at_ts == NOW + 1


def test_retry_with_backoff_schedules_the_next_attempt(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    t = Transition(c, JobStatus.SCHEDULED, error=ERROR, run_at=NOW + 30)
    assert finish(store, t) == [c.job_id]
    job = get(store, c.job_id)
    assert (job.status, job.run_at_ts, job.error, job.attempt) == (JobStatus.SCHEDULED, NOW + 30, ERROR, 1)
    assert (job.finished_at_ts, job.results, job.worker_id) == (None, None, None)
    assert claim(store, now=NOW + 29).jobs == []
    again = claim_one(store, now=NOW + 30)
    assert again.attempt == 2


def test_retry_without_delay_goes_straight_back_to_pending(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    finish(store, Transition(c, JobStatus.PENDING, error=ERROR, run_at=NOW + 1))
    assert get(store, c.job_id).status is JobStatus.PENDING
    assert claim_one(store, now=NOW + 1).attempt == 2


def test_release_gives_the_attempt_back(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    assert finish(store, Transition(c, JobStatus.PENDING, run_at=NOW + 2, release=True)) == [c.job_id]
    job = get(store, c.job_id)
    assert (job.status, job.attempt, job.started_at_ts, job.run_at_ts) == (JobStatus.PENDING, 0, None, NOW + 2)
    assert claim_one(store, now=NOW + 3).attempt == 1


def test_later_error_is_kept_when_a_transition_has_none(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    finish(store, Transition(c, JobStatus.PENDING, error=ERROR, run_at=NOW))
    c2 = claim_one(store, now=NOW + 1)
    finish(store, Transition(c2, JobStatus.PENDING, run_at=NOW + 1, release=True))
    assert get(store, c.job_id).error == ERROR


def test_fencing_rejects_a_stale_attempt_or_another_worker(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store, worker="w1", lease=10)
    impostor = dataclasses.replace(c, worker_id=WorkerId("w2"))
    stale = dataclasses.replace(c, attempt=c.attempt - 1)
    assert finish(store, Transition(impostor, JobStatus.COMPLETED, results=1)) == []
    assert finish(store, Transition(stale, JobStatus.COMPLETED, results=1)) == []
    assert get(store, c.job_id).status is JobStatus.RUNNING
    # The lease expires, the job is rescued and claimed again: the first worker is fenced out.
    assert store.job_rescue_expired(JobRescue(NOW + 11)).requeued == [c.job_id]
    c2 = claim_one(store, worker="w2", now=NOW + 12)
    assert c2.attempt == 2
    assert finish(store, Transition(c, JobStatus.COMPLETED, results="late")) == []
    assert finish(store, Transition(c2, JobStatus.COMPLETED, results="winner"), now=NOW + 13) == [c2.job_id]
    assert get(store, c.job_id).results == "winner"


def test_a_finished_job_cannot_be_finished_again(store: Store) -> None:
    insert(store, new_job())
    c = claim_one(store)
    assert finish(store, Transition(c, JobStatus.COMPLETED, results=1)) == [c.job_id]
    assert finish(store, Transition(c, JobStatus.FAILED, error=ERROR)) == []
    assert get(store, c.job_id).status is JobStatus.COMPLETED


def test_batch_applies_only_the_fenced_ones_in_order(store: Store) -> None:
    insert(store, *[new_job() for _ in range(6)])
    jobs = claim(store).jobs
    stale = dataclasses.replace(jobs[2], attempt=7)
    batch = [
        Transition(jobs[0], JobStatus.COMPLETED, results=0),
        Transition(jobs[1], JobStatus.FAILED, error=ERROR),
        Transition(stale, JobStatus.COMPLETED, results=2),
        Transition(jobs[3], JobStatus.SCHEDULED, error=ERROR, run_at=NOW + 60),
        Transition(jobs[4], JobStatus.PENDING, run_at=NOW, release=True),
        Transition(jobs[0], JobStatus.FAILED, error=ERROR),  # the same job again: already applied
    ]
    applied = finish(store, *batch)
    assert applied == [jobs[0].job_id, jobs[1].job_id, jobs[3].job_id, jobs[4].job_id]
    statuses = [get(store, j.job_id).status for j in jobs]
    assert statuses == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.RUNNING, JobStatus.SCHEDULED,
                        JobStatus.PENDING, JobStatus.RUNNING]
    assert finish(store) == []


def test_many_transitions_in_one_call(store: Store) -> None:
    insert(store, *[new_job() for _ in range(500)])
    jobs = claim(store, limit=500).jobs
    applied = finish(store, *[Transition(j, JobStatus.COMPLETED, results=j.job_id) for j in jobs])
    assert applied == [j.job_id for j in jobs]
    assert get(store, jobs[-1].job_id).results == jobs[-1].job_id


def test_stale_and_current_attempts_of_one_job_in_one_batch(store: Store) -> None:
    insert(store, new_job())
    stale = claim_one(store, worker="w1", lease=5)
    store.job_rescue_expired(JobRescue(NOW + 6))
    current = claim_one(store, worker="w2", now=NOW + 7)
    applied = finish(store, Transition(stale, JobStatus.COMPLETED, results="stale"),
                     Transition(current, JobStatus.COMPLETED, results="current"), now=NOW + 8)
    assert applied == [current.job_id]
    assert get(store, current.job_id).results == "current"


AWKWARD = [
    {"nul": "a\u0000b", "emoji": "😀", "lone": "x", "quote": "\"'\\", "big": 2**62, "tiny": 5e-324},
    ["é", {"nested": {"k": [1.5, -0.0, 1e300]}}, "\\u0000 as text"],
    "line\nbreak\ttab",
]


def test_batched_transitions_keep_awkward_values_exact(store: Store) -> None:
    """A batch travels as one JSON document (both stores): results, errors and run_at must come
    back exactly as given — escapes, non-ASCII text, big and tiny numbers, an odd float run_at."""
    insert(store, *(new_job() for _ in range(5)))
    jobs = claim(store).jobs
    error = {"code": "HANDLER_ERROR", "message": "ünïcode \u0000 \"quoted\"", "details": {"n": 2**53 + 1}}
    run_at = NOW + 0.1 + 1 / 3
    applied = finish(
        store,
        *(Transition(j, JobStatus.COMPLETED, results=r) for j, r in zip(jobs, AWKWARD, strict=False)),
        Transition(jobs[3], JobStatus.FAILED, error=error),
        Transition(jobs[4], JobStatus.SCHEDULED, error=error, run_at=run_at),
        now=NOW + 2,
    )
    assert applied == [j.job_id for j in jobs]
    assert [get(store, j.job_id).results for j in jobs[:3]] == AWKWARD
    failed, retried = get(store, jobs[3].job_id), get(store, jobs[4].job_id)
    assert (failed.status, failed.error, failed.finished_at_ts) == (JobStatus.FAILED, error, NOW + 2)
    assert (retried.status, retried.error, retried.run_at_ts) == (JobStatus.SCHEDULED, error, run_at)
    assert retried.finished_at_ts is None
