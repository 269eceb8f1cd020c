"""An idle PostgreSQL worker claims on its LISTEN thread the moment a wake-up arrives
(worker/eager.py): jobs run, concurrency is never exceeded, and no wake-up is lost when the
listener's claims and the fetcher's own claims interleave. The fallback poll is 30 s, so any
lost wake-up shows up as a timeout far below it."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor, JobContext, JobStatus
from conveyor.store.postgres.database import Q
from conveyor.store.postgres.handoff import handoff_params
from conveyor.store.postgres.insert import insert_step
from conveyor.store.postgres.store import PostgresStore
from tests.conftest import require_postgres
from tests.helpers import wait_for
from tests.integration.conftest import running_worker
from tests.postgres_helpers import schema_of, terminate_connections

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: Conveyor) -> Conveyor:
    return pg_app


def all_done(app: Conveyor, job_ids: list[str]) -> bool:
    return all(app.get(job_id).status is JobStatus.COMPLETED for job_id in job_ids)


def parked_workers(app: Conveyor) -> int:
    with psycopg.connect(app.store.url) as conn:
        row = conn.execute("SELECT count(*) FROM conveyor_parked").fetchone()
        return int(row[0]) if row else 0


def test_idle_worker_claims_announced_jobs_on_the_listener_thread(app: Conveyor) -> None:
    threads: list[str] = []

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        threads.append(threading.current_thread().name)

    with running_worker(app, concurrency=4) as worker:
        job_ids = []
        for _ in range(5):  # a few at a time (not handed over), each lot to a worker gone idle again
            jobs = app.enqueue_many([("note", {}), ("note", {})])
            job_ids += [job.job_id for job in jobs]
            wait_for(lambda jobs=jobs: all_done(app, [j.job_id for j in jobs]), timeout=10, what="jobs done")
        assert worker.fetcher.eager_claimed >= 1
    assert len(threads) == 10


def test_an_idle_worker_gets_each_new_job_handed_over(app: Conveyor) -> None:
    """A worker parked for work gets a new job in its wake-up, already claimed: no claim runs."""
    started: list[float] = []

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        started.append(time.time())

    with running_worker(app, concurrency=4) as worker:
        for _ in range(5):
            wait_for(lambda: parked_workers(app) == 1, timeout=10, what="the worker parked")
            job = app.enqueue("note", {})
            assert job.status is JobStatus.RUNNING and job.worker_id == worker.worker_id
            wait_for(lambda job=job: app.get(job.job_id).status is JobStatus.COMPLETED, timeout=10, what="job done")
        assert worker.fetcher.handed == 5 and worker.fetcher.eager_claimed == 0
        job = app.get(job.job_id)
        assert job.attempt == 1 and job.results is None and len(started) == 5
        wait_for(lambda: worker.fetcher.busy() == 0, timeout=10, what="every outcome stored, nothing in transit")
        wait_for(lambda: parked_workers(app) == 1, timeout=10, what="parked again")
    assert parked_workers(app) == 0  # a worker that stops withdraws its ticket


def ticket_keys(app: Conveyor) -> list[int]:
    with psycopg.connect(app.store.url) as conn:
        return [row[0] for row in conn.execute("SELECT lock_key FROM conveyor_parked")]


def test_hand_offs_resume_after_the_listen_session_is_killed(app: Conveyor) -> None:
    """The ticket's lock lives in the LISTEN session: when that dies, the worker reconnects, drops
    the old ticket, takes a new lock and parks again, and new jobs are handed over as before."""
    done: list[str] = []

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        done.append(ctx.job_id)

    with running_worker(app, concurrency=2) as worker:
        wait_for(lambda: len(ticket_keys(app)) == 1, timeout=10, what="the worker parked")
        [before] = ticket_keys(app)
        base, name = require_postgres(), schema_of(app.store.url)
        assert terminate_connections(base, name, "-- An idle worker's ticket") == 1  # the LISTEN session
        wait_for(lambda: ticket_keys(app) not in ([], [before]), timeout=20, what="parked again, a new lock")
        job = app.enqueue("note", {})
        assert job.status is JobStatus.RUNNING and job.worker_id == worker.worker_id
        wait_for(lambda: done == [job.job_id], timeout=10, what="the handed-over job ran")
        assert worker.fetcher.handed == 1
        wait_for(lambda: worker.fetcher.busy() == 0, timeout=10, what="its outcome stored")


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


def test_handoffs_and_withdrawals_racing_keep_concurrency_exact(app: Conveyor) -> None:
    """A worker woken every few milliseconds by its poll withdraws its ticket and parks again all
    the time, while two producers enqueue single jobs: tickets get taken just before their
    withdrawal, and those jobs must count against capacity until their wake-up arrives."""
    lock = threading.Lock()
    running = {"now": 0, "max": 0}
    runs: list[str] = []

    @app.handler("hold")
    async def hold(ctx: JobContext, params: dict[str, Any]) -> None:
        with lock:
            running["now"] += 1
            running["max"] = max(running["max"], running["now"])
            runs.append(ctx.job_id)
        await asyncio.sleep(params["seconds"])
        with lock:
            running["now"] -= 1

    job_ids: list[str] = []

    def produce(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            job_ids.append(app.enqueue("hold", {"seconds": rng.choice([0.0, 0.001, 0.004])}).job_id)
            time.sleep(rng.choice([0.0, 0.005, 0.01, 0.02]))

    with running_worker(app, concurrency=2, claim_batch=2, poll_interval=0.003) as worker:
        producers = [threading.Thread(target=produce, args=(seed,)) for seed in (1, 2)]
        for p in producers:
            p.start()
        for p in producers:
            p.join(60)
        wait_for(lambda: all_done(app, job_ids), timeout=30, what="every job done")
        handed = worker.fetcher.handed
        wait_for(lambda: worker.fetcher.busy() == 0, timeout=10, what="every outcome stored, nothing in transit")
    assert running["max"] <= 2
    assert sorted(runs) == sorted(job_ids)  # each ran once
    assert handed >= 1


def test_a_ticket_taken_as_it_is_withdrawn_holds_its_slot_until_the_job_arrives(app: Conveyor) -> None:
    """The race made to happen: an enqueue holds the worker's ticket (its transaction is open)
    when the worker, woken by another queue's job, withdraws the ticket; the withdrawal waits,
    then finds the ticket taken. At concurrency 1 the handed-over job must run alone, and the
    other job only after it."""
    spans: dict[str, list[float]] = {}

    @app.handler("hold")
    async def hold(ctx: JobContext, params: dict[str, Any]) -> None:
        spans[params["name"]] = [time.time()]
        await asyncio.sleep(0.05)
        spans[params["name"]].append(time.time())

    store = app.store
    assert isinstance(store, PostgresStore)
    with running_worker(app, concurrency=1) as worker:
        wait_for(lambda: parked_workers(app) == 1, timeout=10, what="the worker parked")
        handed = app.build_job("hold", {"name": "handed"})
        params = handoff_params(handed, insert_step([handed]), store.target.channel)
        assert params is not None
        with psycopg.connect(app.settings.database_url) as producer:  # a transaction, open until commit()
            assert producer.execute(Q["job_insert_handoff"], params).fetchone()[0] == worker.worker_id
            app.enqueue("hold", {"name": "other"}, queue="other")  # no ticket to take: a wake-up
            wait_for(lambda: withdrawal_waiting(app), timeout=10, what="the withdrawal waiting on the ticket")
            producer.commit()
        wait_for(lambda: len(spans.get("other", [])) == 2, timeout=10, what="both jobs ran")
        assert worker.fetcher._eager is not None and worker.fetcher._eager.taken_when_withdrawn == 1
        assert worker.fetcher.handed == 1
        wait_for(lambda: worker.fetcher.busy() == 0, timeout=10, what="both outcomes stored, nothing in transit")
    assert spans["handed"][1] <= spans["other"][0]  # one at a time: the handed-over job held the slot


def withdrawal_waiting(app: Conveyor) -> bool:
    with psycopg.connect(app.settings.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ("%DELETE FROM conveyor_parked WHERE worker_id%",),
        ).fetchone()
        return bool(row and row[0])


def test_a_slot_frees_only_once_its_outcome_is_stored(app: Conveyor) -> None:
    """Outcomes count against concurrency until they are stored, so a SIGKILL re-runs at most
    `concurrency` jobs (issue 6's chaos bound). Here two finished jobs' outcomes cannot be stored
    (another transaction locks their rows): the worker, at concurrency 2, starts nothing else
    until they are."""
    gate = threading.Event()
    started: list[str] = []

    @app.handler("hold")
    async def hold(ctx: JobContext, params: dict[str, Any]) -> None:
        started.append("hold")
        await asyncio.to_thread(gate.wait, 20)

    @app.handler("quick")
    async def quick(ctx: JobContext, params: dict[str, Any]) -> None:
        started.append("quick")

    held = [app.enqueue("hold", {}).job_id for _ in range(2)]
    with running_worker(app, concurrency=2, claim_batch=2):
        wait_for(lambda: started.count("hold") == 2, timeout=10, what="both held jobs running")
        url = app.settings.database_url
        with psycopg.connect(url) as locker:  # a transaction, open until the block ends
            locker.execute("SELECT id FROM conveyor_jobs WHERE job_id = ANY(%s) FOR UPDATE", (held,))
            quick_ids = [app.enqueue("quick", {}).job_id for _ in range(3)]
            gate.set()  # both handlers return; their outcomes wait on the locked rows
            wait_for(lambda: outcome_waits_on_a_lock(url), timeout=10, what="the finish blocked on the row locks")
            watch_until = time.monotonic() + 0.3  # a claim, were one allowed, would start a job well within this
            while time.monotonic() < watch_until:
                assert "quick" not in started
                time.sleep(0.01)
        wait_for(lambda: all_done(app, held + quick_ids), timeout=10, what="all done once the outcomes are stored")
    assert started[2:] == ["quick"] * 3


def outcome_waits_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%conveyor_jobs%'"
        ).fetchone()
    return bool(row and row[0])
