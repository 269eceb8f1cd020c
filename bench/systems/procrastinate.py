"""Procrastinate on PostgreSQL (PsycopgConnector), W1–W4, W6 (no fan-in primitive for W5). Workers:
one `procrastinate worker` process per core with `--concurrency 10` (sync tasks run in threads; the default is 1).
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


# -- W4: a Procrastinate worker fetches one job at a time (`JobManager.fetch_job`: the
# procrastinate_fetch_job_v2 function, FOR UPDATE SKIP LOCKED, marks it doing for this worker).


def prepare(store_url: str, n: int) -> dict[str, Any]:
    start = time.perf_counter()
    tasks = _app(store_url)
    with tasks.app.open():
        for chunk in _peer.chunks(n, 10_000):
            tasks.noop.batch_defer(*({"i": i} for i in chunk))
    _analyze(store_url)
    return {"seconds": time.perf_counter() - start}


def _analyze(store_url: str) -> None:
    """ANALYZE after the bulk fill: what autovacuum does within a minute of it. Without it the
    claims that follow at once plan with an empty table's statistics (280 ms per fetch with 1M)."""
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    import asyncio

    from procrastinate import App, PsycopgConnector

    async def run() -> dict[str, Any]:
        small, big = (App(connector=PsycopgConnector(conninfo=small_url)),
                      App(connector=PsycopgConnector(conninfo=big_url)))
        async with small.open_async(), big.open_async():
            small_worker = await small.job_manager.register_worker()
            big_worker = await big.job_manager.register_worker()

            async def one(app: Any, worker_id: int) -> int:
                return int(await app.job_manager.fetch_job(queues=None, worker_id=worker_id) is not None)

            return await _peer.claim_run_async(lambda: one(small, small_worker), lambda: one(big, big_worker), 1,
                                               claims)

    return asyncio.run(run())


# -- W6: one `procrastinate worker --concurrency 1` per core (a sync task runs in a thread; one at a
# time per process, so no two jobs share a GIL).


def cpu(store_url: str, n: int, processes: int, **_: Any) -> dict[str, Any]:
    tasks = _app(store_url)
    commands = [[_peer.bin_path("procrastinate"), "--app", APP, "worker", "--concurrency", "1"]
                for _ in range(processes)]
    with tasks.app.open():
        return _peer.cpu_run(lambda ids: tasks.cpu.batch_defer(*({"i": i} for i in ids)), n, commands,
                             {"BENCH_STORE_URL": store_url})
