"""Turns raw counts and durations (from any store) into the `stats()` dict of SPEC §3."""

from __future__ import annotations

from typing import Any

from ..status import JobStatus
from .params import StatsRead


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def summarize(
    counts: list[tuple[str, str, str, int]],
    durations: list[float],
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
        "avg_duration_sec": (sum(durations) / len(durations)) if durations else None,
        "p95_duration_sec": _percentile(durations, 0.95),
        "throughput_per_min": (done_recent + failed_recent) / (p.window_seconds / 60.0),
        "window_sec": p.window_seconds,
        "completed_in_window": done_recent,
        "failed_in_window": failed_recent,
        "oldest_pending_age_sec": (
            max(0.0, p.now - oldest_pending_run_at) if oldest_pending_run_at is not None else None
        ),
    }
