"""Huey (SqliteHuey and RedisHuey), W1 (single)–W6. Workers: `huey_consumer -k process -w N`
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


# -- W4: Huey's consumer dequeues one task at a time (`huey.dequeue()`: RedisHuey BRPOP; SqliteHuey
# SELECT of the first task by priority and id + DELETE, one transaction).


def prepare(store_url: str, n: int) -> dict[str, Any]:
    """Fill with `n` serialized `noop` tasks: one pipeline (Redis) or one executemany (SQLite) per
    10,000 — Huey's own message format, written in bulk (Huey has no bulk enqueue API)."""
    start = time.perf_counter()
    with _peer.stamp_dir():
        tasks = _tasks(store_url)
        huey = tasks.huey
        for chunk in _peer.chunks(n, 10_000):
            data = [huey.serialize_task(tasks.noop.s(i)) for i in chunk]
            if store_url.startswith("sqlite:"):
                with huey.storage.db(commit=True) as curs:
                    curs.executemany("insert into task (queue, data, priority) values (?, ?, ?)",
                                     [(huey.storage.name, d, 0.0) for d in data])
            else:
                pipe = huey.storage.conn.pipeline(transaction=False)
                for d in data:
                    pipe.lpush(huey.storage.queue_key, d)
                pipe.execute()
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    from huey import RedisHuey, SqliteHuey

    def open_huey(url: str) -> Any:
        if url.startswith("sqlite:"):
            return SqliteHuey("bench", filename=url.removeprefix("sqlite://")[1:])
        return RedisHuey("bench", url=url)

    os.environ["BENCH_STORE_URL"] = small_url
    from bench.systems import huey_tasks

    small, big = open_huey(small_url), open_huey(big_url)
    small._registry = big._registry = huey_tasks.huey._registry
    return _peer.claim_run(lambda: int(small.dequeue() is not None), lambda: int(big.dequeue() is not None), 1, claims)


# -- W5: a chord, `huey.enqueue(group([...]).then(fanin))` (Huey's fan-in: the callback is
# enqueued by the worker that finishes the last member, with every member's result).


def fanout(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    from huey.api import group

    tasks = _tasks(store_url)

    def warm() -> int:
        for w in range(10):
            tasks.noop(-1 - w)
        return 10

    def enqueue() -> None:
        tasks.huey.enqueue(group([tasks.noop.s(i) for i in range(n)]).then(tasks.fanin))

    return _peer.fanout_run(enqueue, n, _consumer(processes), {"BENCH_STORE_URL": store_url}, warm)


# -- W6: `huey_consumer -k process -w <cores>` (Huey's docs: process workers for CPU-bound tasks).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _tasks(store_url)

    def enqueue(ids: list[int]) -> None:
        for i in ids:
            tasks.cpu(i)

    return _peer.cpu_run(enqueue, n, _consumer(processes), {"BENCH_STORE_URL": store_url})
