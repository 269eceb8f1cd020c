"""Dramatiq with the Redis broker, W1–W3. Workers: `dramatiq --processes <processes> --threads 8`
(its defaults are one process per core and 8 threads each). Bulk: `broker.enqueue` of many messages
in a row (Dramatiq has no bulk-enqueue API; a group is sent message by message too)."""

from __future__ import annotations

import os
import time
from typing import Any

from bench.systems import _peer


def _tasks(store_url: str) -> Any:
    os.environ["BENCH_STORE_URL"] = store_url
    import redis

    redis.Redis.from_url(store_url).flushdb()
    from bench.systems import dramatiq_tasks

    return dramatiq_tasks


def _worker(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("dramatiq"), "bench.systems.dramatiq_tasks", "--processes", str(processes),
             "--threads", "8", "--queues", "bench"]]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    tasks = _tasks(store_url)
    for i in range(200):
        tasks.noop.send(i)
    return _peer.timed(n, lambda: [tasks.noop.send(i) for i in range(n)])


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _tasks(store_url)
    for i in range(n):
        tasks.noop.send(i)
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_worker(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(180.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    tasks = _tasks(store_url)
    with _peer.stamp_dir() as folder, _peer.workers(_worker(1), {"BENCH_STORE_URL": store_url}) as procs:
        return _peer.latency_run(lambda i: tasks.noop.send(i), n, rate, folder, procs)
