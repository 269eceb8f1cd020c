"""arq on Redis, W1 (single) – W3. Workers: one `arq` process per core, arq's defaults
(max_jobs 10, poll_delay 0.5 s: an idle arq worker polls rather than blocks)."""

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
