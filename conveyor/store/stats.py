"""Turns raw counts and durations (from any store) into the `stats()` dict of SPEC §3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..status import JobStatus
from .params import StatsRead


@dataclass(frozen=True, slots=True)
class Durations:
    """Completed jobs' run times over the stats window, aggregated by the store: how many, their
    mean, and the p95. The store sends these three numbers, not every duration: an hour of a busy
    queue is millions of rows, and the dashboard asks every few seconds."""

    count: int
    mean: float | None
    p95: float | None


P95 = 0.95


def rank_from_top(count: int, q: float = P95) -> int:
    """Which duration is the q-quantile, counted from the longest (0: the longest): the one at
    round(q·(count−1)) in ascending order. From the top, the store's sort keeps only the slowest
    5% instead of ordering the whole window."""
    return count - 1 - min(count - 1, max(0, round(q * (count - 1))))


def ranked_p95(count: int, read_rank: Callable[[int], list[Any]]) -> float | None:
    """The p95 of `count` durations; `read_rank(n)` returns the rows of the store's rank query."""
    if not count:
        return None
    rows = read_rank(rank_from_top(count))
    return float(rows[0][0]) if rows else None  # purged meanwhile


def summarize(
    counts: list[tuple[str, str, str, int]],
    durations: Durations,
    finished_in_window: dict[str, int],
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
    done_recent = finished_in_window.get("completed", 0)
    failed_recent = finished_in_window.get("failed", 0)
    return {
        "total_jobs": sum(by_status.values()),
        "by_status": by_status,
        "by_queue": by_queue,
        "by_type": by_type,
        "success_rate": (completed / (completed + failed)) if completed + failed else None,
        "avg_duration_sec": durations.mean if durations.count else None,
        "p95_duration_sec": durations.p95 if durations.count else None,
        "throughput_per_min": (done_recent + failed_recent) / (p.window_seconds / 60.0),
        "window_sec": p.window_seconds,
        "completed_in_window": done_recent,
        "failed_in_window": failed_recent,
        "oldest_pending_age_sec": (
            max(0.0, p.now - oldest_pending_run_at) if oldest_pending_run_at is not None else None
        ),
    }
