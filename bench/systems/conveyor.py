"""Conveyor's side of each workload. Every function runs one measurement and returns its figures.

Workers are real `conveyor worker` subprocesses (`--processes N` for several), started with the
benchmark's handlers; the measuring process only enqueues and reads the store through the public
API, so it runs unchanged on any store URL (SQLite today, PostgreSQL when that store exists).
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conveyor import Conveyor, JobStatus
from conveyor.job import WorkerId
from conveyor.store.params import JobClaim

from ._peer import latency_figures, paced, percentile
from .conveyor_app import register

ROOT = Path(__file__).resolve().parents[2]
APP_SPEC = "bench.systems.conveyor_app:create_app"


def _app(url: str) -> Conveyor:
    app = register(Conveyor(url))
    app.open()
    return app


# -- W1 enqueue ----------------------------------------------------------------------------------


def enqueue_single(store_url: str, n: int) -> dict[str, Any]:
    """`app.enqueue` one job at a time, each its own committed transaction."""
    with _app(store_url) as app:
        for i in range(min(200, n)):  # warm-up: connection, statement cache, first pages
            app.enqueue("noop", {"i": i})
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            app.enqueue("noop", {"i": i})
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"jobs_per_s": n / elapsed, "us_per_job": elapsed / n * 1e6, "cpu_us_per_job": cpu / n * 1e6}


def enqueue_bulk(store_url: str, n: int, batch: int) -> dict[str, Any]:
    """`app.enqueue_many` in batches: one transaction per batch."""
    specs = [("noop", {"i": i}) for i in range(n)]
    with _app(store_url) as app:
        app.enqueue_many(specs[: min(batch, 1000)])  # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        for offset in range(0, n, batch):
            app.enqueue_many(specs[offset : offset + batch])
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"jobs_per_s": n / elapsed, "cpu_us_per_job": cpu / n * 1e6}


# -- workers as subprocesses ---------------------------------------------------------------------


@contextlib.contextmanager
def _worker(
    store_url: str, processes: int = 1, concurrency: int = 10, claim_batch: int = 100
) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CONVEYOR_CLAIM_BATCH"] = str(claim_batch)
    env["CONVEYOR_LOG_LEVEL"] = "warning"
    command = [
        sys.executable, "-m", "conveyor", "worker", "--app", APP_SPEC, "--db", store_url,
        "--concurrency", str(concurrency), "--processes", str(processes),
    ]
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid` and its descendants so far, from /proc (0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total


def _all_jobs(app: Conveyor) -> list[Any]:
    jobs, cursor = [], None
    while True:
        page = app.list(limit=1000, cursor=cursor)
        jobs.extend(page.jobs)
        if page.next_cursor is None:
            return jobs
        cursor = page.next_cursor


def _wait_drained(app: Conveyor, first_id: str, last_id: str, proc: subprocess.Popen[bytes],
                  timeout: float) -> tuple[float, float]:
    """Poll until every job is terminal; returns when that was seen (time.time()) and the worker
    processes' CPU seconds from when the first job was seen started until then."""
    deadline = time.monotonic() + timeout
    while app.get(first_id).status is JobStatus.PENDING:
        _check_alive(proc, deadline)
        time.sleep(0.002)
    cpu_start = _tree_cpu_seconds(proc.pid)
    # While the workers run, look every 20 ms, as the peers' harness does (`_peer.wait_stamps`):
    # the figures come from the jobs' own timestamps, and on 2 cores every look takes CPU from them.
    while not app.get(last_id).status.is_terminal:  # FIFO: the last job enqueued ends (about) last
        _check_alive(proc, deadline)
        time.sleep(0.02)
    while True:
        by_status = app.stats()["by_status"]
        if not any(by_status[s] for s in ("pending", "running", "scheduled", "waiting")):
            return time.time(), _tree_cpu_seconds(proc.pid) - cpu_start
        _check_alive(proc, deadline)
        time.sleep(0.02)


def _check_alive(proc: subprocess.Popen[bytes], deadline: float) -> None:
    if proc.poll() is not None:
        raise RuntimeError(f"worker exited early with code {proc.returncode}")
    if time.monotonic() > deadline:
        raise TimeoutError("jobs did not drain in time")


# -- W2 drain ------------------------------------------------------------------------------------


def drain(store_url: str, n: int, processes: int, concurrency: int, claim_batch: int) -> dict[str, Any]:
    """`n` queued no-op jobs, then start the worker(s); from the first claim to the last finish.

    The window is read from the jobs themselves (min `started_at` .. max `finished_at`), so neither
    interpreter start-up nor the polling interval is counted; `startup_s` reports the former.
    `worker_cpu_us_per_job` is the worker processes' CPU over the drain: on a shared machine it
    moves less than the wall-clock rate.
    """
    with _app(store_url) as app:
        queued = app.enqueue_many([("noop", {"i": i}) for i in range(n)])
        spawned = time.time()
        with _worker(store_url, processes, concurrency, claim_batch) as proc:
            seen, cpu = _wait_drained(app, queued[0].job_id, queued[-1].job_id, proc, timeout=max(120.0, n / 100))
        first, last_done, extra_attempts = _drain_window(app, n)
    return {
        "jobs_per_s": n / (last_done - first),
        "window_s": last_done - first,
        "startup_s": first - spawned,
        "seen_after_s": seen - last_done,
        "extra_attempts": extra_attempts,
        "worker_cpu_us_per_job": cpu / n * 1e6,  # clock ticks (10 ms): a rough figure, steadier than wall time
    }


def drain_warm(store_url: str, n: int, processes: int, concurrency: int, claim_batch: int) -> dict[str, Any]:
    """Start the worker(s) on an empty store, wait until every process is up and idle, then
    enqueue `n` no-op jobs in one transaction; from its commit to the last finish. Unlike `drain`
    this does not charge a second process for starting later than the first."""
    with _app(store_url) as app, _worker(store_url, processes, concurrency, claim_batch) as proc:
        _wait_workers(store_url, processes, proc)
        time.sleep(0.3)  # let the first (empty) claims and start-up work settle
        specs = [("noop", {"i": i}) for i in range(n)]
        queued = app.enqueue_many(specs)
        committed = time.time()  # the workers are woken after the commit, just before this returns
        seen, cpu = _wait_drained(app, queued[0].job_id, queued[-1].job_id, proc, timeout=max(120.0, n / 100))
        _, last_done, extra_attempts = _drain_window(app, n)
    return {
        "jobs_per_s": n / (last_done - committed),
        "window_s": last_done - committed,
        "seen_after_s": seen - last_done,
        "extra_attempts": extra_attempts,
        "worker_cpu_us_per_job": cpu / n * 1e6,
    }


def _drain_window(app: Conveyor, n: int) -> tuple[float, float, int]:
    """(first started_at, last finished_at, attempts beyond one) over the drained jobs."""
    completed = [j for j in _all_jobs(app) if j.status is JobStatus.COMPLETED]
    if len(completed) != n:
        raise RuntimeError(f"{len(completed)} of {n} jobs completed")
    first = min(j.started_at_ts for j in completed)
    last_done = max(j.finished_at_ts for j in completed)
    return first, last_done, sum(j.attempt - 1 for j in completed)


def _wait_workers(store_url: str, processes: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until `processes` workers have registered (their first heartbeat row), read straight from
    the store's table: the public API has no worker list, and the benchmark may look underneath."""
    deadline = time.monotonic() + timeout
    while _live_workers(store_url) < processes:
        _check_alive(proc, deadline)
        time.sleep(0.02)


def _live_workers(store_url: str) -> int:
    query = "SELECT COUNT(*) FROM conveyor_workers WHERE stopped_at IS NULL"
    if store_url.startswith("sqlite:"):
        import sqlite3

        path = store_url.removeprefix("sqlite://")[1:].partition("?")[0]
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return int(conn.execute(query).fetchone()[0])
    import psycopg

    with psycopg.connect(store_url) as pg:
        row = pg.execute(query).fetchone()
        return int(row[0]) if row else 0


# -- W3 latency ----------------------------------------------------------------------------------


def latency(store_url: str, n: int, rate: float) -> dict[str, Any]:
    """An idle worker in another process; `n` single enqueues at `rate`/s; call → handler start."""
    with _app(store_url) as app, _worker(store_url) as proc:
        for _ in range(10):  # worker up, listening and warm
            app.wait(app.enqueue("stamp", {}).job_id, timeout=60)
        sent: list[tuple[str, float]] = []
        for _ in paced(n, rate):
            called = time.time()
            sent.append((app.enqueue("stamp", {}).job_id, called))
        ms = []
        for job_id, called in sent:
            job = app.wait(job_id, timeout=30)
            if job.status is not JobStatus.COMPLETED:
                raise RuntimeError(f"latency job {job_id} ended {job.status.value}")
            ms.append((job.results["t"] - called) * 1000)
        _check_alive(proc, time.monotonic() + 1)
    figures = latency_figures(ms)
    if not store_url.startswith("sqlite:"):
        floor = _postgres_floor(store_url, n, rate)
        figures |= {"floor_p50_ms": statistics.median(floor), "floor_p99_ms": percentile(floor, 0.99)}
    return figures


def _postgres_floor(store_url: str, n: int, rate: float) -> list[float]:
    """What the server and the network take, with no queue code: the same pacing, a durable
    `INSERT` that NOTIFYs in the same statement, and a listener (a thread with its own
    connections) that claims the row at once with an `UPDATE … RETURNING` (synchronous_commit
    off, as Conveyor's claims). Milliseconds from the insert call to the claim's return: the floor
    under W3 on PostgreSQL on this machine, measured in the same run."""
    import threading

    import psycopg

    with psycopg.connect(store_url, autocommit=True) as setup:
        setup.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'pending')")
    claimed: dict[int, float] = {}
    listening = threading.Event()

    def listen() -> None:  # claims on a second connection: psycopg's notifies() stops after a query
        with psycopg.connect(store_url, autocommit=True) as conn, psycopg.connect(store_url, autocommit=True) as db:
            db.execute("SET synchronous_commit TO off")
            conn.execute("LISTEN bench_floor")
            listening.set()
            for note in conn.notifies():
                if note.payload == "stop":
                    return
                db.execute("UPDATE bench_floor SET status = 'running' WHERE id = %s RETURNING id",
                           (int(note.payload),)).fetchall()
                claimed[int(note.payload)] = time.time()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    listening.wait(10)
    insert = ("WITH row AS (INSERT INTO bench_floor DEFAULT VALUES RETURNING id) "
              "SELECT id, pg_notify('bench_floor', id::text) FROM row")
    called: dict[int, float] = {}
    with psycopg.connect(store_url, autocommit=True) as conn:
        for _ in range(10):
            conn.execute(insert)
        for _ in paced(n, rate):
            t0 = time.time()
            row = conn.execute(insert).fetchone()
            assert row is not None
            called[row[0]] = t0
        time.sleep(0.1)
        conn.execute("SELECT pg_notify('bench_floor', 'stop')")
        listener.join(10)
        conn.execute("DROP TABLE bench_floor")
    return [(claimed[i] - t0) * 1000 for i, t0 in called.items() if i in claimed]


# -- W4 claim cost -------------------------------------------------------------------------------


def prepare(store_url: str, n: int) -> dict[str, Any]:
    """Fill a store with `n` pending no-op jobs (enqueue_many, 10,000 per transaction)."""
    start = time.perf_counter()
    with _app(store_url) as app:
        for offset in range(0, n, 10_000):
            app.enqueue_many([("noop", {"i": i}) for i in range(offset, min(n, offset + 10_000))])
    return {"seconds": time.perf_counter() - start}


def claim(small_url: str, big_url: str, batch: int, claims: int) -> dict[str, Any]:
    """Time single claims of `batch` jobs, alternating between the small and the big backlog."""
    with _app(small_url) as small, _app(big_url) as big:
        times: dict[str, list[float]] = {"small": [], "big": []}
        for i in range(claims + 3):
            for name, app in (("small", small), ("big", big)):
                params = JobClaim(WorkerId("bench-claim"), None, batch, time.time(), 3600.0, promote_due=False)
                start = time.perf_counter()
                got = app.store.job_claim(params)
                elapsed = time.perf_counter() - start
                if len(got.jobs) != batch:
                    raise RuntimeError(f"claimed {len(got.jobs)} of {batch} from the {name} backlog")
                if i >= 3:  # the first claims warm the page cache
                    times[name].append(elapsed * 1000)
    small_ms, big_ms = statistics.median(times["small"]), statistics.median(times["big"])
    return claim_figures(small_ms, big_ms, batch)


def claim_figures(small_ms: float, big_ms: float, batch: int) -> dict[str, Any]:
    return {"small_us_per_job": small_ms * 1000 / batch, "big_us_per_job": big_ms * 1000 / batch,
            "ratio": big_ms / small_ms, "small_ms": small_ms, "big_ms": big_ms, "batch": batch}


# -- W5 fan-out / fan-in -------------------------------------------------------------------------


def fanout(store_url: str, n: int, processes: int, concurrency: int, claim_batch: int,
           via: str = "batch") -> dict[str, Any]:
    """`n` no-op children, then one fan-in job after all of them, in one transaction, onto workers
    that are up and idle; the figure is the fan-in handler's start (its own clock, in its result) −
    the time just before the enqueue call.

    via="batch" (the table's): a batch (`app.batch_rows`: a parent the store completes when every
    child is terminal) and the fan-in job `depends_on` that parent, written with `app.insert`.
    via="workflow": `app.enqueue_workflow(chain(group(n × step("noop")), step("stamp")))`, where
    the fan-in step depends on each of the n children itself (much slower at 10,000: see
    docs/benchmarks.md)."""
    from conveyor import chain, group, step
    from conveyor.job import new_job_id

    with _app(store_url) as app, _worker(store_url, processes, concurrency, claim_batch) as proc:
        _wait_workers(store_url, processes, proc)
        time.sleep(0.3)
        called = time.time()
        if via == "workflow":
            handle = app.enqueue_workflow(chain(group(*(step("noop", {"i": i}) for i in range(n))), step("stamp")))
            fan_in_id = handle.tail_ids[0]
        else:
            now = app.clock.now()
            parent_id = new_job_id()
            children = [app.build_job("noop", {"i": i}, now=now, parent_id=parent_id) for i in range(n)]
            rows, batch = app.batch_rows(children, parent_id=parent_id, now=now)
            fan_in_job = app.build_job("stamp", {}, now=now, depends_on=[parent_id])
            app.insert([*rows, fan_in_job], [batch])
            fan_in_id = fan_in_job.job_id
        enqueued = time.time()
        fan_in = app.wait(fan_in_id, timeout=max(300.0, n / 20))
        if fan_in.status is not JobStatus.COMPLETED:
            raise RuntimeError(f"the fan-in job ended {fan_in.status.value}")
        children_done = [j for j in _all_jobs(app) if j.job_type == "noop"]
        if len(children_done) != n or any(j.status is not JobStatus.COMPLETED for j in children_done):
            done = sum(j.status is JobStatus.COMPLETED for j in children_done)
            raise RuntimeError(f"{done} of {n} children completed")
        last_child = max(j.finished_at_ts for j in children_done)
    started = float(fan_in.results["t"])
    return {"fanin_s": started - called, "children_per_s": n / (started - called), "enqueue_s": enqueued - called,
            "last_child_to_fanin_ms": (started - last_child) * 1000}


# -- W6 CPU-bound --------------------------------------------------------------------------------


def cpu(store_url: str, n: int, processes: int, concurrency: int, **_: Any) -> dict[str, Any]:
    """`n` jobs of ~20 ms pure-Python work (a sync handler) onto idle workers:
    `conveyor worker --processes <cores> --concurrency <c>`; one `enqueue_many`; the figure is
    n ÷ (first `started_at` → last `finished_at`). A sync handler runs on a pooled thread, so
    the threads of one process share its GIL: one job at a time per process (concurrency 1) and a
    process per core is the configuration that uses every core."""
    from . import _cpu

    job_s = _cpu.job_seconds()
    with _app(store_url) as app, _worker(store_url, processes, concurrency, claim_batch=concurrency) as proc:
        _wait_workers(store_url, processes, proc)
        time.sleep(0.3)
        start = time.perf_counter()
        queued = app.enqueue_many([("cpu", {"i": i}) for i in range(n)])
        enqueued = time.perf_counter() - start
        _wait_drained(app, queued[0].job_id, queued[-1].job_id, proc, timeout=max(300.0, n))
        first, last_done, _ = _drain_window(app, n)
    return {**_cpu.figures(n, first, last_done, job_s), "enqueue_s": enqueued, "processes": processes}
