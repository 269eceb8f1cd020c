"""Workflow benchmarks (issue 5): a 10,000-child batch's fan-out and fan-in, and what a 5-step
chain costs over 5 independent jobs. Run: python -m bench.workflow_bench [--db URL] [--runs 3]."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from conveyor import Conveyor, JobContext, chain, step
from conveyor.settings import Settings
from conveyor.worker import Worker


async def noop(ctx: JobContext, params: dict[str, Any]) -> None:
    return None


def make_app(url: str) -> Conveyor:
    app = Conveyor(settings=Settings(database_url=url, concurrency=50, retention_seconds=0))
    app.register("noop", noop)
    return app


@contextmanager
def worker(app: Conveyor) -> Iterator[None]:
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def main() -> None:
        async def run() -> None:
            w = Worker(app)
            holder["w"], holder["loop"] = w, asyncio.get_running_loop()
            task = asyncio.create_task(w.run(install_signals=False))
            await w.started.wait()
            ready.set()
            await task

        asyncio.run(run())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield
    finally:
        holder["loop"].call_soon_threadsafe(holder["w"].stop)
        thread.join(60)


def wait_terminal(app: Conveyor, job_ids: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for job_id in job_ids:
        while not app.get(job_id).status.is_terminal:
            if time.monotonic() > deadline:
                raise TimeoutError(job_id)
            time.sleep(0.002)


def fan_out_in(url: str, children: int) -> tuple[float, float]:
    app = make_app(url)
    with worker(app):
        t0 = time.perf_counter()
        parent = app.batch([("noop", {}) for _ in range(children)])
        t_enqueued = time.perf_counter() - t0
        wait_terminal(app, [parent.job_id])
        total = time.perf_counter() - t0
    assert app.get(parent.job_id).results["completed"] == children
    app.close()
    return t_enqueued, total


def chain_vs_independent(url: str, rounds: int) -> tuple[float, float]:
    app = make_app(url)
    with worker(app):
        t0 = time.perf_counter()
        for _ in range(rounds):
            jobs = app.enqueue_many([("noop", {}) for _ in range(5)])
            wait_terminal(app, [j.job_id for j in jobs])
        independent = (time.perf_counter() - t0) / rounds
        t0 = time.perf_counter()
        for _ in range(rounds):
            wf = app.enqueue_workflow(chain(*(step("noop") for _ in range(5))))
            wait_terminal(app, [wf.job_id])
        chained = (time.perf_counter() - t0) / rounds
    app.close()
    return independent, chained


def median_of(runs: int, fn: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    results = [fn() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", action="append", help="store URL (repeatable); default: a temp SQLite file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--children", type=int, default=10_000)
    args = parser.parse_args()
    table = Table(title=f"Workflows (median of {args.runs} runs)")
    for column in ("store", "batch fan-out (enqueue)", "batch fan-out + fan-in", "5 independent jobs",
                   "5-step chain", "chain overhead"):
        table.add_column(column)
    for url in args.db or [None]:
        def fresh(u: str | None = url) -> str:
            return u if u is not None else f"sqlite:///{tempfile.mkdtemp()}/bench.db"

        enq, total = median_of(args.runs, lambda: fan_out_in(fresh(), args.children))
        ind, ch = median_of(args.runs, lambda: chain_vs_independent(fresh(), 50))
        name = (url or "sqlite").split("://")[0]
        table.add_row(name, f"{enq:.2f} s", f"{total:.2f} s ({args.children / total:,.0f} children/s)",
                      f"{ind * 1000:.1f} ms", f"{ch * 1000:.1f} ms", f"{ch / ind:.2f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
