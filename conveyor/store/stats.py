"""Turns raw counts and durations (from any store) into the `stats()` dict of SPEC §3."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..status import JobStatus
from .params import StatsRead

P95 = 0.95


def rank_from_top(count: int, q: float = P95) -> int:
    """Which duration is the q-quantile, counted from the longest (0: the longest): the one at
    round(q·(count−1)) in ascending order. From the top, the store's sort keeps only the slowest
    5% instead of ordering the whole window."""
    return count - 1 - min(count - 1, max(0, round(q * (count - 1))))


@dataclass(frozen=True, slots=True)
class Window:
    """The jobs finished in the stats window, aggregated by the store: it sends these numbers,
    not every duration (an hour of a busy queue is millions of rows, and the dashboard asks every
    few seconds)."""

    completed: int
    failed: int
    mean: float | None  # run time of the completed ones that have a start time
    p95: float | None

    @classmethod
    def read(cls, row: Sequence[Any], read_rank: Callable[[int], list[Any]]) -> Window:
        """From stats_window.sql's row (completed, failed, timed, mean) and, when some completed
        job is timed, the p95 that `read_rank(rank_from_top(timed))` (stats_duration_rank.sql) reads."""
        completed, failed, timed, mean = row
        ranked = read_rank(rank_from_top(timed)) if timed else []
        p95 = float(ranked[0][0]) if ranked else None  # none, or purged meanwhile
        return cls(completed, failed, mean, p95)


def summarize(
    counts: list[tuple[str, str, str, int]],
    window: Window,
    oldest_pending_run_at: float | None,
    p: StatsRead,
) -> dict[str, Any]:
    by_status = {s.value: 0 for s in JobStatus}
    by_queue: dict[str, dict[str, int]] = {}
    by_type: dict[str, dict[str, int]] = {}
    for queue, job_type, status, n in counts:
        by_status[status] = by_status.get(status, 0) + n
        q = by_queue.setdefault(queue, {"total": 0})
        q["total"] += n
        q[status] = q.get(status, 0) + n
        t = by_type.setdefault(job_type, {"total": 0})
        t["total"] += n
        t[status] = t.get(status, 0) + n
    completed = by_status[JobStatus.COMPLETED.value]
    failed = by_status[JobStatus.FAILED.value]
    return {
        "total_jobs": sum(by_status.values()),
        "by_status": by_status,
        "by_queue": by_queue,
        "by_type": by_type,
        "success_rate": (completed / (completed + failed)) if completed + failed else None,
        "avg_duration_sec": window.mean,
        "p95_duration_sec": window.p95,
        "throughput_per_min": (window.completed + window.failed) / (p.window_seconds / 60.0),
        "window_sec": p.window_seconds,
        "completed_in_window": window.completed,
        "failed_in_window": window.failed,
        "oldest_pending_age_sec": (
            max(0.0, p.now - oldest_pending_run_at) if oldest_pending_run_at is not None else None
        ),
    }
