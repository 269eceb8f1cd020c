"""Huey (SqliteHuey and RedisHuey), each W1–W3 workload. Workers: `huey_consumer -k process -w N`
(Huey's docs: process workers for CPU parallelism, one per core), default polling delays except
`--delay 0.01 --max-delay 0.1` so an idle SQLite consumer does not back off to 10 s; RedisHuey
blocks on the list (BRPOP) instead of polling."""

from __future__ import annotations

import os
import time
from typing import Any

from bench.systems import _peer

TASKS = "bench.systems.huey_tasks.huey"


def _tasks(store_url: str) -> Any:
    os.environ["BENCH_STORE_URL"] = store_url
    from bench.systems import huey_tasks

    huey_tasks.huey.flush()
    return huey_tasks


def _consumer(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("huey_consumer"), TASKS, "-k", "process", "-w", str(processes),
             "--delay", "0.01", "--max-delay", "0.1", "-q"]]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    with _peer.stamp_dir():
        tasks = _tasks(store_url)
        for i in range(200):
            tasks.noop(i)
        return _peer.timed(n, lambda: [tasks.noop(i) for i in range(n)])


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    with _peer.stamp_dir() as folder:
        tasks = _tasks(store_url)
        for i in range(n):
            tasks.noop(i)
        spawned = time.time()
        with _peer.workers(_consumer(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(120.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    with _peer.stamp_dir() as folder:
        tasks = _tasks(store_url)
        with _peer.workers(_consumer(1), {"BENCH_STORE_URL": store_url}) as procs:
            return _peer.latency_run(tasks.noop, n, rate, folder, procs)
