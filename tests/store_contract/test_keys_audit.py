"""Contract: API keys, the audit log, log tails and the metrics read (the HTTP API's operations),
on every backend of the `store` fixture."""

from __future__ import annotations

import pytest

from conveyor.job import LogEntry
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import (
    ApiKeyFind,
    ApiKeyInsert,
    ApiKeyList,
    ApiKeyRevoke,
    ApiKeyTouch,
    AuditInsert,
    AuditList,
    LogInsert,
    LogTail,
    MetricsRead,
)
from tests.store_contract.conftest import NOW, claim_one, finish, insert, new_job


@pytest.fixture
def api_store(store: Store) -> Store:
    return store


def key(name: str = "ci", scope: str = "write", n: int = 1) -> ApiKeyInsert:
    return ApiKeyInsert(key_id=f"id{n}", name=name, scope=scope, key_hash=f"hash{n}", created_at=NOW)


def test_api_key_insert_find_list(api_store: Store) -> None:
    record = api_store.api_key_insert(key())
    assert record is not None and record.name == "ci" and record.scope == "write" and record.revoked_at is None
    found = api_store.api_key_find(ApiKeyFind("hash1"))
    assert found is not None and found.key_id == "id1" and found.created_at == NOW
    assert api_store.api_key_find(ApiKeyFind("nope")) is None
    assert [k.key_id for k in api_store.api_key_list(ApiKeyList())] == ["id1"]


def test_an_active_name_is_unique_until_revoked(api_store: Store) -> None:
    assert api_store.api_key_insert(key(n=1)) is not None
    assert api_store.api_key_insert(key(n=2)) is None  # same name, still active
    revoked = api_store.api_key_revoke(ApiKeyRevoke("ci", NOW + 5))
    assert [(k.key_id, k.revoked_at) for k in revoked] == [("id1", NOW + 5)]
    assert api_store.api_key_insert(key(n=3)) is not None
    assert [k.key_id for k in api_store.api_key_list(ApiKeyList())] == ["id3"]
    assert [k.key_id for k in api_store.api_key_list(ApiKeyList(include_revoked=True))] == ["id1", "id3"]
    found = api_store.api_key_find(ApiKeyFind("hash1"))
    assert found is not None and found.revoked_at == NOW + 5  # still found: the caller refuses it


def test_revoke_by_key_id_and_nothing_to_revoke(api_store: Store) -> None:
    api_store.api_key_insert(key(name="a", n=1))
    assert [k.name for k in api_store.api_key_revoke(ApiKeyRevoke("id1", NOW))] == ["a"]
    assert api_store.api_key_revoke(ApiKeyRevoke("id1", NOW)) == []
    assert api_store.api_key_revoke(ApiKeyRevoke("nobody", NOW)) == []


def test_api_key_touch(api_store: Store) -> None:
    api_store.api_key_insert(key())
    api_store.api_key_touch(ApiKeyTouch("id1", NOW + 60))
    found = api_store.api_key_find(ApiKeyFind("hash1"))
    assert found is not None and found.last_used_at == NOW + 60


def test_audit_insert_and_list_newest_first_with_cursor_and_filters(api_store: Store) -> None:
    seqs = [
        api_store.audit_insert(AuditInsert(NOW + i, "alice" if i % 2 else "cli",
                                           f"job.{'cancel' if i < 3 else 'retry'}", (f"j{i}",), {"i": i}))
        for i in range(5)
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    page = api_store.audit_list(AuditList(limit=2))
    assert [e.job_ids for e in page.entries] == [("j4",), ("j3",)] and page.next_cursor is not None
    rest = api_store.audit_list(AuditList(limit=10, cursor=page.next_cursor))
    assert [e.job_ids[0] for e in rest.entries] == ["j2", "j1", "j0"] and rest.next_cursor is None
    first = rest.entries[-1]
    assert (first.at, first.actor, first.action, first.details) == (NOW, "cli", "job.cancel", {"i": 0})
    assert [e.job_ids[0] for e in api_store.audit_list(AuditList(actor="alice")).entries] == ["j3", "j1"]
    assert [e.job_ids[0] for e in api_store.audit_list(AuditList(action="job.retry")).entries] == ["j4", "j3"]
    assert [e.seq for e in api_store.audit_list(AuditList(job_id="j2")).entries] == [seqs[2]]


@pytest.fixture
def read_store(store: Store) -> Store:
    return store


def test_log_tail_returns_positions_after_a_point(read_store: Store) -> None:
    api_store = read_store
    [(job, _)] = insert(api_store, new_job())
    entries = tuple(LogEntry(NOW + i, "info", f"line {i}") for i in range(5))
    api_store.log_insert(LogInsert(job.job_id, entries))
    tail = api_store.log_tail(LogTail(job.job_id, 0, 3))
    assert [e.message for _, e in tail] == ["line 0", "line 1", "line 2"]
    rest = api_store.log_tail(LogTail(job.job_id, tail[-1][0], 100))
    assert [e.message for _, e in rest] == ["line 3", "line 4"]
    assert all(a < b for (a, _), (b, _) in zip(tail + rest, (tail + rest)[1:], strict=False))
    assert api_store.log_tail(LogTail(job.job_id, rest[-1][0])) == []


def test_metrics_read_counts_inserts_after_the_cursor_and_finishes_in_the_window(read_store: Store) -> None:
    api_store = read_store
    first = api_store.metrics_read(MetricsRead(NOW))
    assert first.enqueued == [] and first.enqueued_cursor is not None
    insert(api_store, new_job(), new_job(), new_job(queue="other", job_type="t2"))
    second = api_store.metrics_read(MetricsRead(NOW, enqueued_after=first.enqueued_cursor))
    assert sorted(second.enqueued) == [("default", "task", 2), ("other", "t2", 1)]
    third = api_store.metrics_read(MetricsRead(NOW, enqueued_after=second.enqueued_cursor))
    assert third.enqueued == []
    assert sorted(second.counts) == [("default", "task", "pending", 2), ("other", "t2", "pending", 1)]
    assert sorted(second.oldest_pending) == [("default", NOW), ("other", NOW)]

    claimed = claim_one(api_store, queues=("other",))
    finish(api_store, Transition(claimed, JobStatus.COMPLETED, results={}), now=NOW + 3)
    window = api_store.metrics_read(MetricsRead(NOW + 10, finished_since=NOW, finished_until=NOW + 5))
    assert window.finished == [("other", "t2", "completed", 3.0)]
    later = api_store.metrics_read(MetricsRead(NOW + 10, finished_since=NOW + 5, finished_until=NOW + 10))
    assert later.finished == []
