"""Contract: job_claim — priority then insertion order, queues, limits, scheduled promotion, the
lease it writes, and never handing one job to two workers."""

from __future__ import annotations

import threading

from conveyor.status import JobStatus
from conveyor.store import Store
from tests.store_contract.conftest import NOW, Backend, claim, get, insert, new_job


def test_claim_orders_by_priority_then_fifo(store: Store) -> None:
    jobs = [new_job(priority=p, parameters={"i": i}) for i, p in enumerate([5, 9, 5, 0, 9, 10])]
    insert(store, *jobs)
    claimed = claim(store, limit=10).jobs
    assert [(c.priority, c.parameters["i"]) for c in claimed] == [(10, 5), (9, 1), (9, 4), (5, 0), (5, 2), (0, 3)]


def test_claim_respects_limit_and_takes_the_best_first(store: Store) -> None:
    insert(store, *[new_job(priority=p) for p in (1, 2, 3, 4, 5)])
    first = claim(store, limit=2).jobs
    assert [c.priority for c in first] == [5, 4]
    rest = claim(store, worker="w2", limit=10).jobs
    assert [c.priority for c in rest] == [3, 2, 1]
    assert claim(store, worker="w3").jobs == []


def test_fifo_across_separate_inserts(store: Store) -> None:
    ids = [insert(store, new_job())[0][0].job_id for _ in range(5)]
    assert [c.job_id for c in claim(store).jobs] == ids


def test_claim_writes_attempt_lease_and_owner(store: Store) -> None:
    [(job, _)] = insert(store, new_job(parameters={"x": [1]}, metadata={"m": 1}, timeout=9.0, max_attempts=4))
    [c] = claim(store, worker="w-1", now=NOW + 3, lease=42).jobs
    assert (c.job_id, c.attempt, c.worker_id, c.max_attempts, c.timeout) == (job.job_id, 1, "w-1", 4, 9.0)
    assert (c.parameters, c.metadata, c.checkpoint) == ({"x": [1]}, {"m": 1}, None)
    assert (c.queue, c.job_type) == ("default", "task")
    stored = get(store, job.job_id)
    assert stored.status is JobStatus.RUNNING and stored.attempt == 1 and stored.worker_id == "w-1"
    assert (stored.started_at_ts, stored.lease_expires_at_ts) == (NOW + 3, NOW + 3 + 42)


def test_claim_only_the_queues_asked_for_first_listed_first(store: Store) -> None:
    insert(
        store,
        new_job(queue="low", priority=10, parameters={"q": "low"}),
        new_job(queue="high", priority=1, parameters={"q": "high1"}),
        new_job(queue="other", parameters={"q": "other"}),
        new_job(queue="high", priority=2, parameters={"q": "high2"}),
    )
    # The first queue listed fills the batch before the next one is looked at.
    batch = claim(store, queues=("high", "low"), limit=2).jobs
    assert sorted(c.parameters["q"] for c in batch) == ["high1", "high2"]
    rest = claim(store, queues=("high", "low"), limit=5).jobs
    assert [c.parameters["q"] for c in rest] == ["low"]
    assert claim(store, queues=("missing",)).jobs == []
    assert claim(store, queues=()).jobs == []
    assert [c.parameters["q"] for c in claim(store, queues=None).jobs] == ["other"]


def test_claim_batch_across_queues_is_sorted_by_priority(store: Store) -> None:
    insert(store, new_job(queue="a", priority=1), new_job(queue="b", priority=8), new_job(queue="a", priority=3))
    batch = claim(store, queues=("a", "b"), limit=10).jobs
    assert [c.priority for c in batch] == [8, 3, 1]


def test_scheduled_jobs_are_promoted_when_due(store: Store) -> None:
    soon, later = new_job(run_at=NOW + 10), new_job(run_at=NOW + 20)
    insert(store, soon, later)
    result = claim(store, now=NOW)
    assert result.jobs == [] and result.next_scheduled_at == NOW + 10
    result = claim(store, now=NOW + 10)  # due exactly now
    assert [c.job_id for c in result.jobs] == [soon.job_id]
    assert result.next_scheduled_at == NOW + 20
    result = claim(store, now=NOW + 30)
    assert [c.job_id for c in result.jobs] == [later.job_id] and result.next_scheduled_at is None


def test_promotion_is_skipped_when_not_asked(store: Store) -> None:
    [(job, _)] = insert(store, new_job(run_at=NOW + 1))
    result = claim(store, now=NOW + 5, promote=False)
    assert result.jobs == [] and result.next_scheduled_at is None
    assert get(store, job.job_id).status is JobStatus.SCHEDULED
    assert [c.job_id for c in claim(store, now=NOW + 5).jobs] == [job.job_id]


def test_promoted_jobs_join_the_priority_order(store: Store) -> None:
    insert(store, new_job(priority=5, parameters={"n": "pending"}))
    insert(store, new_job(priority=9, run_at=NOW + 1, parameters={"n": "due"}))
    assert [c.parameters["n"] for c in claim(store, now=NOW + 2).jobs] == ["due", "pending"]


def test_waiting_and_terminal_jobs_are_never_claimed(store: Store) -> None:
    [(dep, _)] = insert(store, new_job())
    insert(store, new_job(status=JobStatus.WAITING, depends_on=(dep.job_id,)))
    [c] = claim(store).jobs
    assert c.job_id == dep.job_id
    assert claim(store, worker="w2", now=NOW + 1000).jobs == []


def test_concurrent_claimers_never_share_a_job(backend: Backend) -> None:
    store = backend.open()
    insert(store, *[new_job() for _ in range(300)])
    stores = [backend.open(migrate=False) for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            while batch := claim(stores[index], worker=f"w{index}", limit=7).jobs:
                claimed[index].extend(c.job_id for c in batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    everything = [job_id for ids in claimed for job_id in ids]
    assert len(everything) == 300 and len(set(everything)) == 300
