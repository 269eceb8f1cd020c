"""Dramatiq with the Redis broker, W1 (single)–W6. Workers: `dramatiq --processes <processes> --threads 8`
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


def _worker_threads(processes: int, threads: int) -> list[list[str]]:
    return [[_peer.bin_path("dramatiq"), "bench.systems.dramatiq_tasks", "--processes", str(processes),
             "--threads", str(threads), "--queues", "bench"]]


# -- W4: a Dramatiq worker's consumer fetches a batch (its prefetch) with one call of the broker's
# Lua `dispatch` script (`fetch`: ids moved from the queue to this worker's ack set, messages
# returned); timed here with a batch of `batch` (the worker's own default prefetch is 2 × threads).


def prepare(store_url: str, n: int) -> dict[str, Any]:
    """`noop.send(i)` for every job, the broker's `dispatch` script calls sent in pipelines of 10,000."""
    start = time.perf_counter()
    tasks = _tasks(store_url)
    broker = tasks.broker
    script = broker.scripts["dispatch"]
    try:
        for chunk in _peer.chunks(n, 10_000):
            pipe = broker.client.pipeline(transaction=False)
            broker.scripts["dispatch"] = lambda keys, args, pipe=pipe: script(keys=keys, args=args, client=pipe)
            for i in chunk:
                tasks.noop.send(i)
            pipe.execute()
    finally:
        broker.scripts["dispatch"] = script
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker

    small, big = RedisBroker(url=small_url), RedisBroker(url=big_url)

    def fetch(broker: RedisBroker) -> int:
        # As its consumer does (_RedisConsumer.__next__): fetch the batch, then decode every
        # message before it can run — every other row counts jobs ready to run, not raw bytes.
        return len([Message.decode(data) for data in broker.do_fetch("bench", batch)])

    return _peer.claim_run(lambda: fetch(small), lambda: fetch(big), batch, claims)


# -- W5: `group(children).add_completion_callback(fanin.message()).run()` (GroupCallbacks
# middleware, Redis barrier).


def fanout(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    os.environ["BENCH_DRAMATIQ_GROUPS"] = "1"
    tasks = _tasks(store_url)
    import dramatiq

    def warm() -> int:
        for w in range(10):
            tasks.noop.send(-1 - w)
        return 10

    def enqueue() -> None:
        g = dramatiq.group([tasks.noop.message(i) for i in range(n)])
        g.add_completion_callback(tasks.fanin.message())
        g.run()

    env = {"BENCH_STORE_URL": store_url, "BENCH_DRAMATIQ_GROUPS": "1"}
    return _peer.fanout_run(enqueue, n, _worker(processes), env, warm)


# -- W6: `dramatiq --processes <cores> --threads 1` (Dramatiq's docs: processes for CPU-bound work;
# one thread each, so no two jobs share a GIL).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _tasks(store_url)

    def enqueue(ids: list[int]) -> None:
        for i in ids:
            tasks.cpu.send(i)

    return _peer.cpu_run(enqueue, n, _worker_threads(processes, 1), {"BENCH_STORE_URL": store_url})
