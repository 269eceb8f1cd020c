"""An idle PostgreSQL worker claims the moment a wake-up arrives (worker/eager.py): on its event
loop, which watches the LISTEN connection while no job runs, or else on the LISTEN thread. Jobs
run, concurrency is never exceeded, and no wake-up is lost when those claims and the fetcher's
own claims interleave. The fallback poll is 30 s, so any lost wake-up shows up as a timeout far
below it."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, JobContext, JobStatus
from conveyor.settings import Settings
from conveyor.store.params import ClaimResult
from conveyor.store.postgres.wakeup import PgListener
from conveyor.worker import Worker
from tests.conftest import require_postgres
from tests.helpers import wait_for
from tests.integration.conftest import running_worker
from tests.postgres_helpers import fresh_schema, schema_of, terminate_connections

pytestmark = pytest.mark.postgres


@pytest.fixture
def app() -> Iterator[Conveyor]:
    with fresh_schema(require_postgres(), "eager") as url:
        app = Conveyor(settings=Settings(database_url=url, poll_interval=30.0))
        app.open()
        yield app
        app.close()


def all_done(app: Conveyor, job_ids: list[str]) -> bool:
    return all(app.get(job_id).status is JobStatus.COMPLETED for job_id in job_ids)


def lent(worker: Worker) -> bool:
    lender = worker.fetcher.lender
    assert isinstance(lender, PgListener)
    return lender.lent_to_loop


def record_claim_threads(worker: Worker) -> list[str]:
    """The thread each eager claim runs on."""
    threads: list[str] = []
    claim = worker.fetcher._eager_claim

    def recorded(limit: int) -> ClaimResult:
        threads.append(threading.current_thread().name)
        return claim(limit)

    worker.fetcher._eager_claim = recorded  # type: ignore[method-assign]
    return threads


def test_idle_worker_claims_announced_jobs_on_its_event_loop(app: Conveyor) -> None:
    handler_threads: list[str] = []

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        handler_threads.append(threading.current_thread().name)

    with running_worker(app, concurrency=4) as worker:
        claim_threads = record_claim_threads(worker)
        for _ in range(5):  # one at a time, each to a worker that went idle again
            wait_for(lambda: lent(worker), timeout=10, what="the idle loop watching the LISTEN connection")
            job = app.enqueue("note", {})
            wait_for(lambda job=job: app.get(job.job_id).status is JobStatus.COMPLETED, timeout=10, what="job done")
        assert worker.fetcher.eager_claimed == 5
    assert len(handler_threads) == 5
    assert claim_threads == handler_threads  # each claim ran on the loop (where async handlers run)


def test_a_busy_worker_claims_on_the_listener_thread(app: Conveyor) -> None:
    release = threading.Event()

    @app.handler("block")
    async def block(ctx: JobContext, params: dict[str, Any]) -> None:
        await asyncio.to_thread(release.wait, 10)

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        pass

    with running_worker(app, concurrency=4) as worker:
        claim_threads = record_claim_threads(worker)
        wait_for(lambda: lent(worker), timeout=10, what="the idle loop watching the LISTEN connection")
        blocker = app.enqueue("block", {})
        wait_for(lambda: app.get(blocker.job_id).status is JobStatus.RUNNING, timeout=10, what="blocker running")
        # a job runs: the loop must not block on claims, so it gave the connection back
        wait_for(lambda: not lent(worker), timeout=10, what="the connection given back to the thread")
        job = app.enqueue("note", {})
        wait_for(lambda: app.get(job.job_id).status is JobStatus.COMPLETED, timeout=10, what="job done")
        release.set()
        wait_for(lambda: app.get(blocker.job_id).status is JobStatus.COMPLETED, timeout=10, what="blocker done")
        assert worker.fetcher.eager_claimed == 2
    assert claim_threads[0] != "conveyor-listen" and claim_threads[1] == "conveyor-listen"


def test_a_burst_onto_an_idle_loop_respects_capacity(app: Conveyor) -> None:
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    @app.handler("hold")
    async def hold(ctx: JobContext, params: dict[str, Any]) -> None:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0.02)
        with lock:
            running["now"] -= 1

    with running_worker(app, concurrency=2, claim_batch=10) as worker:
        for _ in range(3):
            wait_for(lambda: lent(worker), timeout=10, what="the idle loop watching the LISTEN connection")
            job_ids = [job.job_id for job in app.enqueue_many([("hold", {}) for _ in range(9)])]
            wait_for(lambda ids=job_ids: all_done(app, ids), timeout=10, what="the burst done")
    assert running["max"] == 2


def test_a_wakeup_arriving_while_the_loop_holds_the_connection_is_not_lost(app: Conveyor) -> None:
    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        pass

    with running_worker(app, concurrency=4) as worker:
        claim = worker.fetcher._eager_claim
        followers: list[str] = []

        def claim_then_enqueue(limit: int) -> ClaimResult:
            result = claim(limit)
            if not followers:  # announced while the loop still holds the connection, after its claim
                followers.append(app.enqueue("note", {}).job_id)
            return result

        worker.fetcher._eager_claim = claim_then_enqueue  # type: ignore[method-assign]
        wait_for(lambda: lent(worker), timeout=10, what="the idle loop watching the LISTEN connection")
        first = app.enqueue("note", {})
        wait_for(lambda: all_done(app, [first.job_id, *followers]) and followers, timeout=10,
                 what="both jobs done, by wake-ups (the poll is 30 s)")


def test_an_idle_worker_reconnects_when_its_lent_connection_dies(app: Conveyor) -> None:
    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        pass

    with running_worker(app, concurrency=4) as worker:
        listener = worker.fetcher.lender
        assert isinstance(listener, PgListener)
        wait_for(lambda: lent(worker), timeout=10, what="the idle loop watching the LISTEN connection")
        assert terminate_connections(require_postgres(), schema_of(app.settings.database_url)) >= 1
        wait_for(lambda: listener.reconnects >= 1, timeout=20, what="the listener reconnected")
        wait_for(lambda: lent(worker), timeout=10, what="the new connection lent to the idle loop")
        job = app.enqueue("note", {})
        wait_for(lambda: app.get(job.job_id).status is JobStatus.COMPLETED, timeout=10, what="job done by a wake-up")


def test_concurrency_holds_while_eager_and_own_claims_interleave(app: Conveyor) -> None:
    lock = threading.Lock()
    running = {"now": 0, "max": 0}

    @app.handler("hold")
    async def hold(ctx: JobContext, params: dict[str, Any]) -> None:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(params["seconds"])
        with lock:
            running["now"] -= 1

    rng = random.Random(7)
    with running_worker(app, concurrency=3, claim_batch=3) as worker:
        job_ids = []
        for _ in range(60):  # singles and bursts, some while the worker is full, some while idle
            burst = rng.choice([1, 1, 1, 2, 5])
            specs = [("hold", {"seconds": rng.choice([0.0, 0.005, 0.02])}) for _ in range(burst)]
            if rng.random() < 0.5:  # one wake-up for the lot: more than one claim's worth
                job_ids += [job.job_id for job in app.enqueue_many(specs)]
            else:
                job_ids += [app.enqueue(job_type, params).job_id for job_type, params in specs]
            if rng.random() < 0.3:  # let the worker drain and go idle (armed) before the next enqueue
                wait_for(lambda ids=job_ids: all_done(app, ids), timeout=10, what="drained")
        wait_for(lambda: all_done(app, job_ids), timeout=10, what="every job done, no wake-up lost")
        assert worker.fetcher.eager_claimed >= 1
    assert running["max"] <= 3
