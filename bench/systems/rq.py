"""RQ on Redis, W1–W3. Workers: `rq worker-pool -n <processes> -w rq.worker.SimpleWorker`.
RQ's default Worker forks a work horse per job: in a trial here it drained 2,000 jobs at ≈ 60/s
with 2 processes, which would take minutes per run, so the table uses SimpleWorker (no fork per
job; RQ's documented option for speed) — the faster of RQ's two setups."""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue

from bench.systems import _peer
from bench.systems.rq_tasks import noop

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
