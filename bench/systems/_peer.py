"""Shared plumbing for the peers (stdlib only; runs under the peers' interpreter).

Every peer's no-op handler calls `stamp(i)`: it appends "i time.time()" to a file per worker
process in $BENCH_STAMP_DIR (one `os.write`, ~1 µs: noise next to any peer's per-job cost). The
measuring process reads the stamps back, so the drain window is the same for every peer — first
handler start to last handler start (a no-op finishes as it starts) — and W3's latency is the
handler's own clock minus the time just before the enqueue call.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_fd: int | None = None
_pid = 0


def stamp(i: int) -> None:
    now = time.time()
    stamp_line(b"%d %.6f\n" % (i, now))  # a forked child gets its own file (see stamp_line)


def stamp_end(i: int) -> None:
    """A CPU-bound handler's end (W6): "i time e", ignored by `read_stamps`, read by `read_ends`."""
    now = time.time()
    stamp_line(b"%d %.6f e\n" % (i, now))


def stamp_line(line: bytes) -> None:
    global _fd, _pid
    if _fd is None or _pid != os.getpid():
        _pid = os.getpid()
        path = os.path.join(os.environ["BENCH_STAMP_DIR"], f"{_pid}-{id(object())}.txt")
        _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(_fd, line)


def read_ends(folder: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for path in glob.glob(os.path.join(folder, "*.txt")):
        with open(path, "rb") as fh:
            for line in fh.read().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[2] == b"e":
                    out[int(parts[0])] = float(parts[1])
    return out


def read_stamps(folder: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for path in glob.glob(os.path.join(folder, "*.txt")):
        with open(path, "rb") as fh:
            for line in fh.read().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    i, t = int(parts[0]), float(parts[1])
                    out.setdefault(i, t)  # a rerun keeps its first start
    return out


def count_stamps(folder: str) -> int:
    total = 0
    for path in glob.glob(os.path.join(folder, "*.txt")):
        with open(path, "rb") as fh:
            total += fh.read().count(b"\n")
    return total


@contextlib.contextmanager
def stamp_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as folder:
        os.environ["BENCH_STAMP_DIR"] = folder
        yield folder


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    out.update(extra)
    return out


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@contextlib.contextmanager
def workers(commands: list[list[str]], extra_env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start each command in its own process group; SIGTERM (then SIGKILL) the groups at the end."""
    # stderr goes to a file, not a pipe: a chatty worker must never block on a full pipe
    procs = []
    for command in commands:
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process below
        proc = subprocess.Popen(command, env=env(**extra_env), cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=log)
        proc._bench_log = log  # type: ignore[attr-defined]
        procs.append(proc)
    try:
        yield procs
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # leftovers (forked children)
            _stderr_close(p)


def check_alive(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is not None:
            err = _stderr_of(p).strip().splitlines()
            raise RuntimeError(f"worker exited {p.returncode}: {err[-1] if err else '(no output)'}")


def _stderr_of(p: subprocess.Popen[bytes]) -> str:
    log = getattr(p, "_bench_log", None)
    if log is None:
        return ""
    log.seek(0)
    return str(log.read().decode(errors="replace"))


def _stderr_close(p: subprocess.Popen[bytes]) -> None:
    log = getattr(p, "_bench_log", None)
    if log is not None:
        log.close()


def wait_stamps(folder: str, n: int, procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while count_stamps(folder) < n:
        check_alive(procs)
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count_stamps(folder)} of {n} jobs ran in {timeout:.0f} s")
        time.sleep(0.02)


def drain_figures(folder: str, n: int, spawned: float) -> dict[str, Any]:
    stamps = read_stamps(folder)
    if len(stamps) != n:
        raise RuntimeError(f"{len(stamps)} of {n} distinct jobs ran")
    first, last = min(stamps.values()), max(stamps.values())
    return {"jobs_per_s": n / (last - first), "window_s": last - first, "startup_s": first - spawned,
            "extra_runs": count_stamps(folder) - n}


def latency_run(enqueue: Any, n: int, rate: float, folder: str, procs: list[subprocess.Popen[bytes]],
                warmup: int = 10) -> dict[str, Any]:
    """`enqueue(i)` sends job i (its handler stamps i). Warm-up jobs use negative indexes."""
    for w in range(warmup):
        enqueue(-1 - w)
    wait_stamps(folder, warmup, procs, timeout=120)
    called: dict[int, float] = {}
    for i in paced(n, rate):
        called[i] = time.time()
        enqueue(i)
    wait_stamps(folder, warmup + n, procs, timeout=60)
    stamps = read_stamps(folder)
    return latency_figures([(stamps[i] - called[i]) * 1000 for i in range(n)])


def paced(n: int, rate: float) -> Iterator[int]:
    """0 … n-1, each at its slot of a steady `rate` per second (W3's pacing, every system)."""
    start = time.perf_counter()
    for i in range(n):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        yield i


def latency_figures(ms: list[float]) -> dict[str, Any]:
    return {"p50_ms": statistics.median(ms), "p95_ms": percentile(ms, 0.95), "p99_ms": percentile(ms, 0.99),
            "max_ms": max(ms)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(n: int, fn: Any) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"jobs_per_s": n / elapsed, "us_per_job": elapsed / n * 1e6, "cpu_us_per_job": cpu / n * 1e6}


# -- W4 claim cost -------------------------------------------------------------------------------


def claim_run(claim_small: Any, claim_big: Any, batch: int, claims: int) -> dict[str, Any]:
    """Time `claims` calls of each (after 3 warm-up calls each), alternating small and big backlog;
    each call must return `batch` jobs (it claims them the way the peer's worker does)."""
    times: dict[str, list[float]] = {"small": [], "big": []}
    for i in range(claims + 3):
        for name, fn in (("small", claim_small), ("big", claim_big)):
            start = time.perf_counter()
            got = fn()
            elapsed = time.perf_counter() - start
            if got != batch:
                raise RuntimeError(f"claimed {got} of {batch} from the {name} backlog")
            if i >= 3:
                times[name].append(elapsed * 1000)
    return claim_figures(statistics.median(times["small"]), statistics.median(times["big"]), batch)


async def claim_run_async(claim_small: Any, claim_big: Any, batch: int, claims: int,
                          after: Any = None) -> dict[str, Any]:
    """`claim_run` for coroutine functions; `await after(name)` (untimed) follows each claim."""
    times: dict[str, list[float]] = {"small": [], "big": []}
    for i in range(claims + 3):
        for name, fn in (("small", claim_small), ("big", claim_big)):
            start = time.perf_counter()
            got = await fn()
            elapsed = time.perf_counter() - start
            if after is not None:
                await after(name)
            if got != batch:
                raise RuntimeError(f"claimed {got} of {batch} from the {name} backlog")
            if i >= 3:
                times[name].append(elapsed * 1000)
    return claim_figures(statistics.median(times["small"]), statistics.median(times["big"]), batch)


def claim_figures(small_ms: float, big_ms: float, batch: int) -> dict[str, Any]:
    return {"small_us_per_job": small_ms * 1000 / batch, "big_us_per_job": big_ms * 1000 / batch,
            "ratio": big_ms / small_ms, "small_ms": small_ms, "big_ms": big_ms, "batch": batch}


def chunks(n: int, size: int) -> Iterator[range]:
    for offset in range(0, n, size):
        yield range(offset, min(n, offset + size))


# -- W5 fan-out / fan-in -------------------------------------------------------------------------

FANIN = 1_000_000_000  # the fan-in job's stamp index (children stamp 0 … n-1)


def fanout_run(enqueue: Any, n: int, commands: list[list[str]], extra_env: dict[str, str],
               warm: Any, timeout: float = 900) -> dict[str, Any]:
    """W5 for a peer: the workers start and run `warm()` (a few no-op jobs, negative indexes)
    first, so they are idle and ready; then `enqueue()` sends the n children and the fan-in job
    with the peer's own primitive. Figure: the fan-in handler's start − the time just before."""
    with stamp_dir() as folder, workers(commands, extra_env) as procs:
        warmed = warm()
        wait_stamps(folder, warmed, procs, timeout=180)
        time.sleep(1.0)
        called = time.time()
        enqueue()
        enqueued = time.time()
        deadline = time.monotonic() + timeout
        while FANIN not in read_stamps_tail(folder):
            check_alive(procs)
            if time.monotonic() > deadline:
                ran = count_stamps(folder) - warmed
                raise TimeoutError(f"no fan-in after {timeout:.0f} s ({ran} of {n} children ran)")
            time.sleep(0.05)
        stamps = read_stamps(folder)
    children = [stamps[i] for i in range(n) if i in stamps]
    if len(children) != n:
        raise RuntimeError(f"the fan-in ran after {len(children)} of {n} children")
    fan_in = stamps[FANIN]
    return {"fanin_s": fan_in - called, "children_per_s": n / (fan_in - called), "enqueue_s": enqueued - called,
            "last_child_to_fanin_ms": (fan_in - max(children)) * 1000}


def read_stamps_tail(folder: str) -> set[int]:
    """Indexes stamped in the last 256 bytes of each file (cheap to poll for the fan-in stamp)."""
    out: set[int] = set()
    for path in glob.glob(os.path.join(folder, "*.txt")):
        with open(path, "rb") as fh:
            offset = max(0, os.path.getsize(path) - 256)
            fh.seek(offset)
            lines = fh.read().splitlines()
            for line in lines[1:] if offset else lines:  # the first may be cut
                parts = line.split()
                if len(parts) == 2 and parts[0].lstrip(b"-").isdigit():
                    out.add(int(parts[0]))
    return out


# -- W6 CPU-bound --------------------------------------------------------------------------------


def cpu_run(enqueue: Any, n: int, commands: list[list[str]], extra_env: dict[str, str],
            timeout: float = 600) -> dict[str, Any]:
    """W6 for a peer: start the workers on an empty queue; `2 × cores` warm-up jobs (negative
    indexes) run first and then a 1 s pause, so every worker process is up; then `enqueue(list of
    indexes)` sends the `n` CPU-bound jobs (its bulk API where it has one). Figure: n ÷ (first
    handler start → last handler end) of those n, with the loop's cost measured here."""
    from bench.systems import _cpu

    job_s = _cpu.job_seconds()
    cores = os.cpu_count() or 1
    warm = [-1 - w for w in range(2 * cores)]
    with stamp_dir() as folder, workers(commands, extra_env) as procs:
        enqueue(warm)
        wait_stamps(folder, 2 * len(warm), procs, timeout=180)
        time.sleep(1.0)
        start = time.perf_counter()
        enqueue(list(range(n)))
        enqueued = time.perf_counter() - start
        wait_stamps(folder, 2 * (len(warm) + n), procs, timeout=timeout)
        starts, ends = read_stamps(folder), read_ends(folder)
    missing = [i for i in range(n) if i not in starts or i not in ends]
    if missing:
        raise RuntimeError(f"{len(missing)} of {n} CPU jobs did not run")
    first = min(starts[i] for i in range(n))
    last = max(ends[i] for i in range(n))
    return {**_cpu.figures(n, first, last, job_s, cores=cores), "enqueue_s": enqueued}
