"""Celery with the Redis broker, W1–W3. Workers: `celery worker --pool prefork --concurrency
<processes>` (Celery's default pool, one child per core), results ignored. Bulk: a group of
signatures published with one producer (Celery has no bulk-insert API; this is its batching)."""

from __future__ import annotations

import os
import time
from typing import Any

from bench.systems import _peer


def _tasks(store_url: str) -> Any:
    os.environ["BENCH_STORE_URL"] = store_url
    import redis

    redis.Redis.from_url(store_url).flushdb()
    from bench.systems import celery_tasks

    return celery_tasks


def _worker(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("celery"), "-A", "bench.systems.celery_tasks", "worker", "--pool", "prefork",
             "--concurrency", str(processes), "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"]]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    tasks = _tasks(store_url)
    for i in range(200):
        tasks.noop.delay(i)
    return _peer.timed(n, lambda: [tasks.noop.delay(i) for i in range(n)])


def _bulk(tasks: Any, start: int, stop: int) -> None:
    with tasks.app.producer_or_acquire() as producer:
        for i in range(start, stop):
            tasks.noop.apply_async((i,), producer=producer)


def enqueue_bulk(store_url: str, n: int, batch: int) -> dict[str, Any]:
    tasks = _tasks(store_url)
    _bulk(tasks, 0, min(batch, 1000))

    def run() -> None:
        for offset in range(0, n, batch):
            _bulk(tasks, offset, min(n, offset + batch))

    return _peer.timed(n, run)


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _tasks(store_url)
    for offset in range(0, n, 1000):
        _bulk(tasks, offset, min(n, offset + 1000))
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_worker(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(180.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    tasks = _tasks(store_url)
    with _peer.stamp_dir() as folder, _peer.workers(_worker(1), {"BENCH_STORE_URL": store_url}) as procs:
        return _peer.latency_run(lambda i: tasks.noop.delay(i), n, rate, folder, procs)
