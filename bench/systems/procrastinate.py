"""Procrastinate on PostgreSQL (PsycopgConnector), W1–W3. Workers: one `procrastinate worker`
process per core with `--concurrency 10` (sync tasks run in threads; the default is 1).
Schema: `procrastinate schema --apply` on each fresh database."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from bench.systems import _peer

APP = "bench.systems.procrastinate_tasks.app"


def _app(store_url: str) -> Any:
    os.environ["BENCH_STORE_URL"] = store_url
    subprocess.run([_peer.bin_path("procrastinate"), "--app", APP, "schema", "--apply"], check=True,
                   capture_output=True, env=_peer.env())
    from bench.systems import procrastinate_tasks

    return procrastinate_tasks


def _workers(processes: int) -> list[list[str]]:
    return [[_peer.bin_path("procrastinate"), "--app", APP, "worker", "--concurrency", "10"]
            for _ in range(processes)]


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    tasks = _app(store_url)
    with tasks.app.open():
        for i in range(200):
            tasks.noop.defer(i=i)
        return _peer.timed(n, lambda: [tasks.noop.defer(i=i) for i in range(n)])


def enqueue_bulk(store_url: str, n: int, batch: int) -> dict[str, Any]:
    tasks = _app(store_url)
    with tasks.app.open():
        tasks.noop.batch_defer(*({"i": i} for i in range(min(batch, 1000))))

        def run() -> None:
            for offset in range(0, n, batch):
                tasks.noop.batch_defer(*({"i": i} for i in range(offset, min(n, offset + batch))))

        return _peer.timed(n, run)


def drain(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _app(store_url)
    with tasks.app.open():
        for offset in range(0, n, 1000):
            tasks.noop.batch_defer(*({"i": i} for i in range(offset, min(n, offset + 1000))))
    with _peer.stamp_dir() as folder:
        spawned = time.time()
        with _peer.workers(_workers(processes), {"BENCH_STORE_URL": store_url}) as procs:
            _peer.wait_stamps(folder, n, procs, timeout=max(180.0, n / 20))
        return _peer.drain_figures(folder, n, spawned)


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    tasks = _app(store_url)
    with tasks.app.open(), _peer.stamp_dir() as folder, \
            _peer.workers(_workers(1), {"BENCH_STORE_URL": store_url}) as procs:
        time.sleep(1.0)  # the worker is up and LISTENing (warm-up jobs follow)
        return _peer.latency_run(lambda i: tasks.noop.defer(i=i), n, rate, folder, procs)
