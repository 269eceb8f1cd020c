"""PgQueuer on PostgreSQL (asyncpg), W1–W4, W6 (no fan-in primitive for W5). Workers: one `pgq run`
process per core, defaults (batch_size 10, LISTEN/NOTIFY wake-ups). Schema: `pgq install` on each fresh database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import asyncpg
from pgqueuer import AsyncpgDriver
from pgqueuer.queries import Queries

from bench.systems import _peer


def _install(store_url: str) -> None:
    subprocess.run([_peer.bin_path("pgq"), "--pg-dsn", store_url, "install"], check=True,
                   capture_output=True, env=_peer.env())


async def _queries(store_url: str) -> tuple[Queries, asyncpg.Connection]:
    conn = await asyncpg.connect(store_url)
    return Queries(AsyncpgDriver(conn)), conn


def _workers(processes: int) -> list[list[str]]:
    # = `pgq run bench.systems.pgqueuer_tasks:create` (see pgqueuer_tasks.py for why not the CLI)
    return [[sys.executable, "-m", "bench.systems.pgqueuer_tasks"] for _ in range(processes)]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    _install(store_url)

    async def run() -> dict[str, Any]:
        q, conn = await _queries(store_url)
        for i in range(200):
            await q.enqueue("noop", str(i).encode())
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            await q.enqueue("noop", str(i).encode())
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await conn.close()
        return {"jobs_per_s": n / elapsed, "us_per_job": elapsed / n * 1e6, "cpu_us_per_job": cpu / n * 1e6}

    return asyncio.run(run())


async def _bulk(q: Queries, start: int, stop: int) -> None:
    await q.enqueue(["noop"] * (stop - start), [str(i).encode() for i in range(start, stop)], [0] * (stop - start))


def enqueue_bulk(store_url: str, n: int, batch: int) -> dict[str, Any]:
    _install(store_url)

    async def run() -> dict[str, Any]:
        q, conn = await _queries(store_url)
        await _bulk(q, 0, min(batch, 1000))
        start, cpu = time.perf_counter(), time.process_time()
        for offset in range(0, n, batch):
            await _bulk(q, offset, min(n, offset + batch))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await conn.close()
        return {"jobs_per_s": n / elapsed, "cpu_us_per_job": cpu / n * 1e6}

    return asyncio.run(run())


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    _install(store_url)

    async def fill() -> None:
        q, conn = await _queries(store_url)
        for offset in range(0, n, 1000):
            await _bulk(q, offset, min(n, offset + 1000))
        await conn.close()

    asyncio.run(fill())
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_workers(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(120.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    _install(store_url)
    loop = asyncio.new_event_loop()
    q, conn = loop.run_until_complete(_queries(store_url))
    try:
        with _peer.stamp_dir() as folder, _peer.workers(_workers(1), {"BENCH_STORE_URL": store_url}) as procs:
            time.sleep(1.0)  # the worker is up and LISTENing before the first job (warm-up jobs follow)
            return _peer.latency_run(lambda i: loop.run_until_complete(q.enqueue("noop", str(i).encode())),
                                     n, rate, folder, procs)
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


# -- W4: a PgQueuer worker claims a batch with one query (`Queries.dequeue`: FOR UPDATE SKIP LOCKED,
# status → picked); timed with batch_size 100 (its worker's default is 10).


def prepare(store_url: str, n: int) -> dict[str, Any]:
    _install(store_url)

    async def fill() -> None:
        q, conn = await _queries(store_url)
        for chunk in _peer.chunks(n, 10_000):
            await _bulk(q, chunk.start, chunk.stop)
        await conn.close()

    async def analyze() -> None:  # what autovacuum does within a minute of a bulk fill
        conn = await asyncpg.connect(store_url)
        await conn.execute("ANALYZE")
        await conn.close()

    start = time.perf_counter()
    asyncio.run(fill())
    asyncio.run(analyze())
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    import uuid
    from datetime import timedelta

    from pgqueuer.ports.repository import EntrypointExecutionParameter

    async def run() -> dict[str, Any]:
        (small, small_conn), (big, big_conn) = await _queries(small_url), await _queries(big_url)
        entrypoints = {"noop": EntrypointExecutionParameter(concurrency_limit=0)}
        manager = uuid.uuid4()

        async def one(q: Queries) -> int:
            jobs = await q.dequeue(batch_size=batch, entrypoints=entrypoints, queue_manager_id=manager,
                                   global_concurrency_limit=None, heartbeat_timeout=timedelta(seconds=30))
            return len(jobs)

        out = await _peer.claim_run_async(lambda: one(small), lambda: one(big), batch, claims)
        await small_conn.close()
        await big_conn.close()
        return out

    return asyncio.run(run())


# -- W6: one worker process per core, defaults; the entrypoint runs the loop with
# `await asyncio.to_thread(...)` (PgQueuer's entrypoints are async; its advice for blocking code).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    _install(store_url)
    loop = asyncio.new_event_loop()
    q, conn = loop.run_until_complete(_queries(store_url))

    def enqueue(ids: list[int]) -> None:
        loop.run_until_complete(q.enqueue(["cpu"] * len(ids), [str(i).encode() for i in ids], [0] * len(ids)))

    try:
        return _peer.cpu_run(enqueue, n, _workers(processes), {"BENCH_STORE_URL": store_url})
    finally:
        loop.run_until_complete(conn.close())
        loop.close()
