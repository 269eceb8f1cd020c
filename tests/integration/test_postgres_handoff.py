"""The hand-off on PostgreSQL (store/postgres/handoff.py): an enqueue that finds an idle worker
parked for its queue writes the job already claimed by that worker and NOTIFYs the job itself.

A "parked worker" here is a raw session doing what a worker's LISTEN connection does: LISTEN,
take the ticket's lock (`worker_lock`), leave a ticket (`worker_park`), all through the store's
own methods pinned to that session, as the worker's listener thread runs them."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor, JobStatus
from conveyor.job import WorkerId
from conveyor.outcome import Transition
from conveyor.store.params import JobFinish, JobRescue, WorkerLock, WorkerPark
from conveyor.store.postgres.store import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: Conveyor) -> Conveyor:
    return pg_app


def pg(app: Conveyor) -> PostgresStore:
    assert isinstance(app.store, PostgresStore)
    return app.store


class Parked:
    """A worker's LISTEN session holding a ticket."""

    def __init__(self, store: PostgresStore, url: str, worker_id: str, queues: tuple[str, ...] | None = None,
                 lease: float = 30.0) -> None:
        self.store = store
        self.worker_id = WorkerId(worker_id)
        self.key = int.from_bytes(os.urandom(8), "big", signed=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f'LISTEN "{store.target.channel}"')
        with self.pinned():
            assert store.worker_lock(WorkerLock(self.worker_id, self.key))
        self.park(queues, lease)

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        with self.store._relaxed.pinned(self.conn):
            yield

    def park(self, queues: tuple[str, ...] | None = None, lease: float = 30.0) -> None:
        with self.pinned():
            self.store.worker_park(WorkerPark(self.worker_id, self.key, queues, lease, time.time()))

    def unpark(self) -> bool:
        with self.pinned():
            return self.store.worker_unpark(WorkerLock(self.worker_id, self.key))

    def messages(self, timeout: float = 2.0) -> list[str]:
        """Notifications received, waiting up to `timeout` for the first."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not got and time.monotonic() < deadline:
            select.select([self.conn.fileno()], [], [], max(0.0, deadline - time.monotonic()))
            self.conn.pgconn.consume_input()
            while (n := self.conn.pgconn.notifies()) is not None:
                got.append(n.extra.decode())
        return got

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def parked(app: Conveyor, pg_url: str) -> Iterator[Any]:
    sessions: list[Parked] = []

    def make(worker_id: str = "w1", queues: tuple[str, ...] | None = None, lease: float = 30.0) -> Parked:
        session = Parked(pg(app), pg_url, worker_id, queues, lease)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()


def clear_jobs(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM conveyor_jobs")


def tickets(pg_url: str) -> list[str]:
    with psycopg.connect(pg_url) as conn:
        return [r[0] for r in conn.execute("SELECT worker_id FROM conveyor_parked ORDER BY worker_id")]


def test_an_enqueue_hands_its_job_to_the_parked_worker(app: Conveyor, parked: Any, pg_url: str) -> None:
    w = parked("w1", lease=20.0)
    job = app.enqueue("pdf", {"file": "a.pdf", "pages": [1, 2.5, None], "s": "\u00e9\u0000"},
                      priority=7, timeout=60, max_attempts=4, metadata={"tenant": "t1"})
    assert (job.status, job.attempt, job.worker_id) == (JobStatus.RUNNING, 1, "w1")
    stored = app.get(job.job_id)
    assert (stored.status, stored.attempt, stored.worker_id) == (JobStatus.RUNNING, 1, "w1")
    assert stored.started_at_ts == stored.created_at_ts
    assert stored.lease_expires_at_ts == pytest.approx(stored.created_at_ts + 20.0)
    [message] = w.messages()
    handed = pg(app).handed_job(message, WorkerId("w1"))
    assert handed is not None
    assert (handed.job_id, handed.job_type, handed.queue, handed.priority, handed.attempt, handed.max_attempts,
            handed.timeout, handed.worker_id, handed.checkpoint) == (
        job.job_id, "pdf", "default", 7, 1, 4, 60.0, "w1", None)
    assert handed.parameters == {"file": "a.pdf", "pages": [1, 2.5, None], "s": "\u00e9\u0000"}
    assert handed.metadata == {"tenant": "t1"}
    assert pg(app).handed_job(message, WorkerId("w2")) is None  # every listener hears it; only w1 takes it
    assert tickets(pg_url) == []  # a ticket is taken once
    second = app.enqueue("pdf", {})
    assert second.status is JobStatus.PENDING and w.messages() == ["j:default"]
    # The handed job's fencing token is the worker's: its outcome is recorded as from a claim.
    applied = pg(app).job_finish(JobFinish((Transition(handed, JobStatus.COMPLETED, results={"ok": 1}),), time.time()))
    assert applied == [job.job_id] and app.get(job.job_id).status is JobStatus.COMPLETED


def test_no_ticket_means_the_plain_insert_and_its_wakeup(app: Conveyor, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'LISTEN "{pg(app).target.channel}"')
        job = app.enqueue("pdf", {})
        assert job.status is JobStatus.PENDING and app.get(job.job_id).attempt == 0
        assert [n.payload for n in conn.notifies(timeout=2.0, stop_after=1)] == ["j:default"]


def test_a_dead_workers_ticket_is_skipped_then_purged(app: Conveyor, parked: Any, pg_url: str) -> None:
    w = parked("dead")
    w.close()  # the session (and its lock) is gone; the ticket row stays behind
    assert tickets(pg_url) == ["dead"]
    assert app.enqueue("pdf", {}).status is JobStatus.PENDING
    clear_jobs(pg_url)
    live = parked("live")
    assert app.enqueue("pdf", {}).worker_id == "live"  # the dead ticket, parked first, was passed over
    assert any(m.startswith("r:live ") for m in live.messages())
    assert tickets(pg_url) == ["dead"]
    pg(app).job_rescue_expired(JobRescue(time.time()))
    assert tickets(pg_url) == []


def test_a_new_job_never_overtakes_one_waiting_in_its_queue(app: Conveyor, parked: Any) -> None:
    waiting = app.enqueue("pdf", {})
    parked("w1")
    assert app.enqueue("pdf", {}, priority=10).status is JobStatus.PENDING
    assert app.enqueue("pdf", {}, queue="other").worker_id == "w1"  # another queue has nobody waiting
    assert app.get(waiting.job_id).status is JobStatus.PENDING


def test_the_longest_parked_worker_goes_first(app: Conveyor, parked: Any) -> None:
    parked("first")
    time.sleep(0.01)
    parked("second")
    assert [app.enqueue("pdf", {}).worker_id for _ in range(3)] == ["first", "second", None]


def test_a_ticket_serves_only_its_queues(app: Conveyor, parked: Any) -> None:
    parked("w1", queues=("a", "b"))
    assert app.enqueue("pdf", {}, queue="c").status is JobStatus.PENDING
    assert app.enqueue("pdf", {}, queue="b").worker_id == "w1"


def test_no_handoff_while_limits_exist(app: Conveyor, parked: Any) -> None:
    parked("w1")
    app.set_limit(job_type="other", concurrency=5)
    assert app.enqueue("pdf", {}).status is JobStatus.PENDING


def test_jobs_that_are_not_plain_and_due_are_never_handed_over(app: Conveyor, parked: Any) -> None:
    parked("w1")
    first = app.enqueue("pdf", {})
    assert first.worker_id == "w1"
    parked("w2")
    assert app.enqueue("pdf", {}, delay=60).status is JobStatus.SCHEDULED
    assert app.enqueue("pdf", {}, depends_on=[first.job_id]).status is JobStatus.WAITING
    keyed = app.enqueue("pdf", {}, idempotency_key="k1")
    assert keyed.status is JobStatus.PENDING
    big = app.enqueue("pdf", {"blob": "x" * 8000})  # would not fit a NOTIFY payload
    assert big.status is JobStatus.PENDING


def test_unpark_says_whether_a_job_was_handed_over_meanwhile(app: Conveyor, parked: Any) -> None:
    w = parked("w1")
    assert w.unpark() is True  # withdrawn untouched
    assert app.enqueue("pdf", {}).status is JobStatus.PENDING
    clear_jobs(app.store.url)
    w.park()
    assert app.enqueue("pdf", {}).worker_id == "w1"
    assert w.unpark() is False  # taken by that enqueue: its job is on the way


def test_the_lock_belongs_to_one_session(app: Conveyor, parked: Any, pg_url: str) -> None:
    w = parked("w1")
    with psycopg.connect(pg_url, autocommit=True) as other, pg(app)._relaxed.pinned(other):
        assert pg(app).worker_lock(WorkerLock(WorkerId("w2"), w.key)) is False


def test_enqueue_in_the_callers_transaction_is_never_handed_over(app: Conveyor, parked: Any, pg_url: str) -> None:
    parked("w1")
    with psycopg.connect(pg_url) as conn:
        job = app.enqueue("pdf", {}, connection=conn)
        conn.commit()
    assert app.get(job.job_id).status is JobStatus.PENDING
