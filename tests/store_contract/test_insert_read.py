"""Contract: job_insert (bulk, idempotency keys), job_get, job_list (filters, cursor paging),
log_insert / log_list."""

from __future__ import annotations

import pytest

from conveyor.job import LogEntry, WorkerId
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import JobGet, JobList, LogInsert, LogList
from tests.store_contract.conftest import (
    NOW,
    Backend,
    claim,
    claim_one,
    finish,
    get,
    insert,
    new_job,
)


def test_insert_round_trips_every_field(store: Store) -> None:
    parent = new_job()
    insert(store, parent)
    new = new_job(
        job_type="pdf", queue="documents", priority=9,
        parameters={"file": "ä.pdf", "nested": {"list": [1, 2.5, None, True]}, "nul": "a\u0000b", "emoji": "🚀"},
        max_attempts=7, max_crashes=2, timeout=12.5, created_at=NOW - 0.123456789, run_at=NOW + 60.000001,
        idempotency_key="key-1", parent_id=parent.job_id, metadata={"tenant": "acme", "tags": ["x"]},
    )
    [(returned, created)] = insert(store, new)
    assert created is True
    job = get(store, new.job_id)
    for j in (returned, job):
        assert (j.job_id, j.job_type, j.queue, j.priority) == (new.job_id, "pdf", "documents", 9)
        assert j.status is JobStatus.SCHEDULED
        assert j.parameters == new.parameters
        assert (j.max_attempts, j.max_crashes, j.timeout) == (7, 2, 12.5)
        assert (j.created_at_ts, j.run_at_ts) == (new.created_at, new.run_at)  # exact floats
        assert j.depends_on == () and j.parent_id == parent.job_id
        assert j.idempotency_key == "key-1" and j.metadata == {"tenant": "acme", "tags": ["x"]}
        assert (j.attempt, j.crashes, j.progress, j.results, j.error, j.checkpoint) == (0, 0, None, None, None, None)
        assert (j.started_at_ts, j.finished_at_ts, j.worker_id, j.lease_expires_at_ts) == (None, None, None, None)
    assert job.cursor is not None


def test_waiting_job_keeps_its_dependencies(store: Store) -> None:
    first, second = new_job(), new_job()
    insert(store, first, second)
    dependent = new_job(status=JobStatus.WAITING, depends_on=(first.job_id, second.job_id))
    insert(store, dependent)
    job = get(store, dependent.job_id)
    assert job.status is JobStatus.WAITING and job.depends_on == (first.job_id, second.job_id)
    assert [j.job_id for j in claim(store).jobs] == [first.job_id, second.job_id]  # never the waiting one


def test_bulk_insert_keeps_order_and_all_jobs(store: Store) -> None:
    jobs = [new_job(parameters={"i": i}) for i in range(1000)]
    results = insert(store, *jobs)
    assert [j.job_id for j, _ in results] == [j.job_id for j in jobs]
    assert all(created for _, created in results)
    page = store.job_list(JobList(limit=1000))
    assert [j.parameters["i"] for j in page.jobs] == list(range(999, -1, -1))  # newest first


def test_insert_nothing_is_a_no_op(store: Store) -> None:
    assert insert(store) == []


def test_idempotency_key_returns_the_live_job(store: Store) -> None:
    first = new_job(idempotency_key="order-42", parameters={"v": 1})
    [(_, created)] = insert(store, first)
    again = new_job(idempotency_key="order-42", parameters={"v": 2})
    [(existing, created_again)] = insert(store, again)
    assert created and not created_again
    assert existing.job_id == first.job_id and existing.parameters == {"v": 1}
    assert store.job_get(JobGet(again.job_id)) is None


def test_idempotency_key_within_one_batch_and_mixed_with_unkeyed(store: Store) -> None:
    a, b, c, d = (new_job(idempotency_key="k"), new_job(), new_job(idempotency_key="k"), new_job(idempotency_key="z"))
    results = insert(store, a, b, c, d)
    assert [created for _, created in results] == [True, True, False, True]
    assert results[2][0].job_id == a.job_id
    assert len(store.job_list(JobList()).jobs) == 3


def test_idempotency_key_is_free_again_once_the_job_is_terminal(store: Store) -> None:
    [(first, _)] = insert(store, new_job(idempotency_key="once"))
    running = claim_one(store)
    assert finish(store, Transition(running, JobStatus.COMPLETED, results=1)) == [first.job_id]
    [(second, created)] = insert(store, new_job(idempotency_key="once"))
    assert created and second.job_id != first.job_id


def test_get_unknown_job_is_none(store: Store) -> None:
    assert store.job_get(JobGet("01900000-0000-7000-8000-000000000000")) is None
    assert store.job_get(JobGet("not a uuid at all")) is None


def test_list_filters(store: Store) -> None:
    parent = new_job(job_type="parent")
    insert(
        store,
        parent,
        new_job(job_type="a", queue="q1"),
        new_job(job_type="b", queue="q1", parent_id=parent.job_id),
        new_job(job_type="a", queue="q2", run_at=NOW + 100),
    )
    def types(**filters: object) -> list[str]:
        return sorted(j.job_type for j in store.job_list(JobList(**filters)).jobs)  # type: ignore[arg-type]

    assert types(job_type="a") == ["a", "a"]
    assert types(queue="q1") == ["a", "b"]
    assert types(status=JobStatus.SCHEDULED) == ["a"]
    assert types(status=JobStatus.PENDING, queue="q1", job_type="b") == ["b"]
    assert types(parent_id=parent.job_id) == ["b"]
    assert types(status=JobStatus.RUNNING) == []


def test_list_cursor_pages_through_everything_newest_first(store: Store) -> None:
    ids = [j.job_id for j, _ in insert(store, *[new_job() for _ in range(23)])]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.job_list(JobList(limit=5, cursor=cursor))
        seen.extend(j.job_id for j in page.jobs)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert seen == list(reversed(ids))


def test_list_last_page_exactly_full_has_no_next_cursor(store: Store) -> None:
    insert(store, *[new_job() for _ in range(4)])
    first = store.job_list(JobList(limit=2))
    second = store.job_list(JobList(limit=2, cursor=first.next_cursor))
    assert first.next_cursor is not None and len(second.jobs) == 2 and second.next_cursor is None


def test_list_refuses_a_cursor_it_never_handed_out(store: Store) -> None:
    from conveyor.errors import InvalidJobOptions

    insert(store, new_job(), new_job())
    for garbage in ("garbage", "²", "9" * 40):
        with pytest.raises(InvalidJobOptions) as err:
            store.job_list(JobList(cursor=garbage))
        assert err.value.field == "cursor"


def test_logs_in_order_per_job_with_limit(store: Store) -> None:
    a, b = new_job(), new_job()
    insert(store, a, b)
    entries = tuple(LogEntry(NOW + i, "info", f"line {i}") for i in range(5))
    store.log_insert(LogInsert(a.job_id, entries[:3]))
    store.log_insert(LogInsert(b.job_id, (LogEntry(NOW, "error", "other job"),)))
    store.log_insert(LogInsert(a.job_id, entries[3:]))
    store.log_insert(LogInsert(a.job_id, ()))
    assert store.log_list(LogList(a.job_id)) == list(entries)
    assert store.log_list(LogList(a.job_id, limit=2)) == list(entries[:2])
    assert store.log_list(LogList(b.job_id)) == [LogEntry(NOW, "error", "other job")]
    assert store.log_list(LogList("nope")) == []


def test_worker_beat_records_start_heartbeat_and_stop(backend: Backend, store: Store) -> None:
    from conveyor.store.params import WorkerBeat

    store.worker_beat(WorkerBeat(WorkerId("w1"), NOW, {"pid": 1}))
    store.worker_beat(WorkerBeat(WorkerId("w1"), NOW + 5, {"pid": 1, "running": 2}))
    rows = backend.raw(backend.url, "SELECT started_at, heartbeat_at, stopped_at FROM conveyor_workers")
    assert rows == [(NOW, NOW + 5, None)]
    store.worker_beat(WorkerBeat(WorkerId("w1"), NOW + 9, stopping=True))
    rows = backend.raw(backend.url, "SELECT started_at, heartbeat_at, stopped_at FROM conveyor_workers")
    assert rows == [(NOW, NOW + 9, NOW + 9)]
