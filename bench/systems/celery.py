"""Celery with the Redis broker, W1 (single)–W6. Workers: `celery worker --pool prefork --concurrency
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


# -- W4: a Celery worker takes one message at a time off the Redis list (kombu's Redis transport:
# BRPOP, then the message goes into the `unacked` hash until acked); `basic_get(queue)` on a kombu
# channel does the same pop + unacked bookkeeping without blocking.


def prepare(store_url: str, n: int) -> dict[str, Any]:
    """10,000 real task messages published, then copied (raw, LPUSH in pipelines) up to `n`:
    Celery has no bulk publish, and publishing a million one by one would take minutes."""
    import redis

    start = time.perf_counter()
    tasks = _tasks(store_url)
    _bulk(tasks, 0, min(n, 10_000))
    r = redis.Redis.from_url(store_url)
    raw = r.lrange("celery", 0, -1)
    left = n - len(raw)
    while left > 0:
        r.lpush("celery", *raw[:left])
        left -= min(left, len(raw))
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    from kombu import Connection

    small, big = Connection(small_url).default_channel, Connection(big_url).default_channel
    return _peer.claim_run(lambda: int(small.basic_get("celery") is not None),
                           lambda: int(big.basic_get("celery") is not None), 1, claims)


# -- W5: a chord, `chord(noop_r.s(i) for i in range(n))(fanin.si())`, Redis result backend.


def fanout(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    from celery import chord

    os.environ["BENCH_CELERY_RESULTS"] = "1"
    tasks = _tasks(store_url)

    def warm() -> int:
        for w in range(10):
            tasks.noop.delay(-1 - w)
        return 10

    def enqueue() -> None:
        chord(tasks.noop_r.s(i) for i in range(n))(tasks.fanin.si())

    env = {"BENCH_STORE_URL": store_url, "BENCH_CELERY_RESULTS": "1"}
    return _peer.fanout_run(enqueue, n, _worker(processes), env, warm)


# -- W6: prefork pool, one child per core (Celery's default pool, the one for CPU-bound work).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _tasks(store_url)

    def enqueue(ids: list[int]) -> None:
        with tasks.app.producer_or_acquire() as producer:
            for i in ids:
                tasks.cpu.apply_async((i,), producer=producer)

    return _peer.cpu_run(enqueue, n, _worker(processes), {"BENCH_STORE_URL": store_url})
