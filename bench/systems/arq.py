"""arq on Redis, W1 (single)–W4, W6 (arq has no fan-in primitive for W5). Workers: one `arq`
process per core, arq's defaults (max_jobs 10, poll_delay 0.5 s: an idle arq worker polls rather than blocks)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from bench.systems import _peer


def _worker(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("arq"), "bench.systems.arq_tasks.WorkerSettings"] for _ in range(processes)]


async def _pool(store_url: str) -> Any:
    pool = await create_pool(RedisSettings.from_dsn(store_url))
    await pool.flushdb()
    return pool


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        pool = await _pool(store_url)
        for i in range(200):
            await pool.enqueue_job("noop", i)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            await pool.enqueue_job("noop", i)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await pool.aclose()
        return {"jobs_per_s": n / elapsed, "us_per_job": elapsed / n * 1e6, "cpu_us_per_job": cpu / n * 1e6}

    return asyncio.run(run())


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    async def fill() -> None:
        pool = await _pool(store_url)
        for i in range(n):
            await pool.enqueue_job("noop", i)
        await pool.aclose()

    asyncio.run(fill())
    os.environ["BENCH_STORE_URL"] = store_url
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_worker(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(180.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(_pool(store_url))
    try:
        with _peer.stamp_dir() as folder, _peer.workers(_worker(1), {"BENCH_STORE_URL": store_url}) as procs:
            return _peer.latency_run(lambda i: loop.run_until_complete(pool.enqueue_job("noop", i)),
                                     n, rate, folder, procs)
    finally:
        loop.run_until_complete(pool.aclose())
        loop.close()


async def _fill(pool: Any, function: str, ids: Any) -> None:
    for chunk in _peer.chunks(len(ids), 1000):
        await asyncio.gather(*(pool.enqueue_job(function, ids[i]) for i in chunk))


# -- W4: an arq worker's poll reads up to queue_read_limit (100) due ids (ZRANGEBYSCORE) and claims
# them one by one (WATCH the in-progress key, ZSCORE, MULTI/PSETEX) until max_jobs (10) run:
# `Worker.start_jobs`. Timed: that read + `start_jobs`, with arq's own Worker (run_job replaced by a
# stub so nothing runs); after each claim (untimed) the claimed jobs are removed as if they ran.


def prepare(store_url: str, n: int) -> dict[str, Any]:
    async def run() -> None:
        pool = await _pool(store_url)
        await _fill(pool, "noop", range(n))
        await pool.aclose()

    start = time.perf_counter()
    asyncio.run(run())
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    from arq.constants import in_progress_key_prefix
    from arq.utils import timestamp_ms
    from arq.worker import Worker

    from bench.systems.arq_tasks import noop

    class ClaimOnly(Worker):
        claimed: list[str]
        hold: asyncio.Event

        async def run_job(self, job_id: str, score: int) -> None:
            self.claimed.append(job_id)
            await self.hold.wait()  # "running" until the claim is timed: its slot stays taken

    async def run() -> dict[str, Any]:
        workers = {}
        for name, url in (("small", small_url), ("big", big_url)):
            pool = await create_pool(RedisSettings.from_dsn(url))
            w = ClaimOnly(functions=[noop], redis_pool=pool, handle_signals=False)
            w.claimed, w.hold = [], asyncio.Event()
            workers[name] = w

        async def one(w: Any) -> int:
            ids = await w.pool.zrangebyscore(w.queue_name, min=float("-inf"), start=w._queue_read_offset,
                                             num=w.queue_read_limit, max=timestamp_ms())
            await w.start_jobs(ids)
            return len(w.tasks)

        async def after(name: str) -> None:
            w = workers[name]
            w.hold.set()
            await asyncio.gather(*w.tasks.values())
            await asyncio.sleep(0)  # the done callbacks free the slots
            w.tasks.clear()
            w.hold = asyncio.Event()
            await w.pool.zrem(w.queue_name, *w.claimed)
            await w.pool.delete(*(in_progress_key_prefix + job_id for job_id in w.claimed))
            w.claimed.clear()

        max_jobs = workers["small"].max_jobs
        out = await _peer.claim_run_async(lambda: one(workers["small"]), lambda: one(workers["big"]), max_jobs,
                                          claims, after)
        for w in workers.values():
            await w.pool.aclose()
        return out

    return asyncio.run(run())


# -- W6: one arq process per core (its docs: a process per core for CPU work; a coroutine doing CPU
# work blocks that process's event loop, which is the point here).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    pool = loop.run_until_complete(_pool(store_url))
    try:
        return _peer.cpu_run(lambda ids: loop.run_until_complete(_fill(pool, "cpu", ids)), n, _worker(processes),
                             {"BENCH_STORE_URL": store_url})
    finally:
        loop.run_until_complete(pool.aclose())
        loop.close()
