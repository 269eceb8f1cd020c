"""RQ on Redis, W1–W6. Workers: `rq worker-pool -n <processes> -w rq.worker.SimpleWorker`.
RQ's default Worker forks a work horse per job: in a trial here it drained 2,000 jobs at ≈ 60/s
with 2 processes, which would take minutes per run, so the table uses SimpleWorker (no fork per
job; RQ's documented option for speed) — the faster of RQ's two setups."""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue

from bench.systems import _peer
from bench.systems.rq_tasks import cpu as cpu_task
from bench.systems.rq_tasks import fanin, noop

FUNC = "bench.systems.rq_tasks.noop"


def _queue(store_url: str) -> Queue:
    conn = Redis.from_url(store_url)
    conn.flushdb()
    return Queue("bench", connection=conn)


def _pool(store_url: str, processes: int) -> list[list[str]]:
    return [[_peer.bin_path("rq"), "worker-pool", "-n", str(processes), "-u", store_url, "-q",
             "-w", "rq.worker.SimpleWorker", "bench"]]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    q = _queue(store_url)
    for i in range(200):
        q.enqueue(noop, i)
    return _peer.timed(n, lambda: [q.enqueue(noop, i) for i in range(n)])


def enqueue_bulk(store_url: str, n: int, batch: int) -> dict[str, Any]:
    q = _queue(store_url)
    q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(min(batch, 1000))])

    def run() -> None:
        for offset in range(0, n, batch):
            q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(offset, min(n, offset + batch))])

    return _peer.timed(n, run)


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    with _peer.stamp_dir() as folder:
        q = _queue(store_url)
        for offset in range(0, n, 1000):
            q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in range(offset, min(n, offset + 1000))])
        spawned = time.time()
        with _peer.workers(_pool(store_url, processes), {}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(120.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    with _peer.stamp_dir() as folder:
        q = _queue(store_url)
        with _peer.workers(_pool(store_url, 1), {}) as procs:
            return _peer.latency_run(lambda i: q.enqueue(noop, i), n, rate, folder, procs)


# -- W4: RQ's worker dequeues one job at a time (Queue.dequeue_any: LMOVE to its intermediate
# queue + HGETALL of the job), so one claim is one job.


def prepare(store_url: str, n: int) -> dict[str, Any]:
    start = time.perf_counter()
    q = _queue(store_url)
    for chunk in _peer.chunks(n, 10_000):
        q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in chunk])
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    small = Queue("bench", connection=Redis.from_url(small_url))
    big = Queue("bench", connection=Redis.from_url(big_url))

    def one(q: Queue) -> int:
        got = Queue.dequeue_any([q], None, connection=q.connection)
        return 0 if got is None else 1

    return _peer.claim_run(lambda: one(small), lambda: one(big), 1, claims)


# -- W5: the fan-in job `depends_on` every child (RQ's multiple dependencies).


def fanout(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    q = _queue(store_url)

    def warm() -> int:
        q.enqueue_many([Queue.prepare_data(noop, (-1 - w,)) for w in range(10)])
        return 10

    def enqueue() -> None:
        children = []
        for chunk in _peer.chunks(n, 1000):
            children += q.enqueue_many([Queue.prepare_data(noop, (i,)) for i in chunk])
        q.enqueue(fanin, depends_on=children)

    return _peer.fanout_run(enqueue, n, _pool(store_url, processes), {}, warm)


# -- W6: the same SimpleWorker pool, one worker process per core.


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    q = _queue(store_url)
    return _peer.cpu_run(lambda ids: q.enqueue_many([Queue.prepare_data(cpu_task, (i,)) for i in ids]), n,
                         _pool(store_url, processes), {})
