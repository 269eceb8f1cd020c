"""SAQ on Redis, W1 (single)–W4, W6 (SAQ has no fan-in primitive for W5). Workers:
`saq bench.systems.saq_tasks.settings --workers N`
(its defaults: concurrency 10 per process; Redis BLMOVE wake-ups)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
from saq import Queue

from bench.systems import _peer


def _worker(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("saq"), "bench.systems.saq_tasks.settings", "--workers", str(processes)]]


def _queue(store_url: str) -> Queue:
    redis.Redis.from_url(store_url).flushdb()
    return Queue.from_url(store_url, name="bench")


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        q = _queue(store_url)
        for i in range(200):
            await q.enqueue("noop", i=i)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            await q.enqueue("noop", i=i)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await q.disconnect()
        return {"jobs_per_s": n / elapsed, "us_per_job": elapsed / n * 1e6, "cpu_us_per_job": cpu / n * 1e6}

    return asyncio.run(run())


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    async def fill() -> None:
        q = _queue(store_url)
        for i in range(n):
            await q.enqueue("noop", i=i)
        await q.disconnect()

    asyncio.run(fill())
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_worker(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(180.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    q = _queue(store_url)
    try:
        with _peer.stamp_dir() as folder, _peer.workers(_worker(1), {"BENCH_STORE_URL": store_url}) as procs:
            time.sleep(1.0)
            return _peer.latency_run(lambda i: loop.run_until_complete(q.enqueue("noop", i=i)),
                                     n, rate, folder, procs)
    finally:
        loop.run_until_complete(q.disconnect())
        loop.close()


async def _fill(q: Queue, function: str, ids: Any) -> None:
    for chunk in _peer.chunks(len(ids), 1000):
        await asyncio.gather(*(q.enqueue(function, i=ids[i]) for i in chunk))


# -- W4: a SAQ worker dequeues one job at a time (`Queue.dequeue`: BLMOVE from the queued list to
# the active list, then the job's key).


def prepare(store_url: str, n: int) -> dict[str, Any]:
    async def run() -> None:
        q = _queue(store_url)
        await _fill(q, "noop", range(n))
        await q.disconnect()

    start = time.perf_counter()
    asyncio.run(run())
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        small, big = Queue.from_url(small_url, name="bench"), Queue.from_url(big_url, name="bench")

        async def one(q: Queue) -> int:
            return int(await q.dequeue() is not None)

        out = await _peer.claim_run_async(lambda: one(small), lambda: one(big), 1, claims)
        await small.disconnect()
        await big.disconnect()
        return out

    return asyncio.run(run())


# -- W6: `saq … --workers <cores>` (a process per core; concurrency stays 10, but the CPU loop blocks
# the process's event loop, so one job runs at a time per process).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    q = _queue(store_url)
    try:
        return _peer.cpu_run(lambda ids: loop.run_until_complete(_fill(q, "cpu", ids)), n, _worker(processes),
                             {"BENCH_STORE_URL": store_url})
    finally:
        loop.run_until_complete(q.disconnect())
        loop.close()
