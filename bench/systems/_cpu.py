"""W6's CPU-bound job: the same pure-Python loop for every system (stdlib only; imported by
Conveyor's handlers and by every peer's tasks module).

ITERATIONS was calibrated once on the benchmark machine (2-core AMD EPYC, Python 3.11): ≈ 50 ns
per iteration, so 400,000 iterations ≈ 20 ms. Each W6 run measures the loop again in the
measuring process (`job_ms`, the median of a few timed calls) so the notes show what one job
cost on the day, and the ideal rate (cores ÷ job time) the drain is compared with.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

ITERATIONS = 400_000


def burn(iterations: int = ITERATIONS) -> int:
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) % 1_000_003
    return x


def job_seconds(samples: int = 7) -> float:
    """The loop's wall time in this process (median of `samples`, after one warm-up call)."""
    burn()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        burn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def figures(n: int, first_start: float, last_end: float, job_s: float, startup_s: float | None = None,
            cores: int | None = None) -> dict[str, Any]:
    """W6's figures: jobs/s over first handler start → last handler end, and the ideal."""
    cores = cores or os.cpu_count() or 1
    window = last_end - first_start
    out = {"jobs_per_s": n / window, "window_s": window, "job_ms": job_s * 1000,
           "ideal_jobs_per_s": cores / job_s, "of_ideal": (n / window) / (cores / job_s)}
    if startup_s is not None:
        out["startup_s"] = startup_s
    return out
