"""What the dashboard pages show, read in one thread hop each through the API's services: the
overview (stats, queues, limits, busy workers, schedules), a page of jobs, one job with its logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConveyorError
from ..job import Job, LogEntry
from ..status import JobStatus

if TYPE_CHECKING:
    from ..app import Conveyor

T = TypeVar("T")
RUNNING_SCAN = 1000  # running jobs read to find the busy workers
QUEUE_COLUMNS = ("waiting", "scheduled", "pending", "running", "completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    counts: dict[str, int]
    paused: bool

    @property
    def depth(self) -> int:
        """Jobs due and not started: what a worker serving this queue would claim next."""
        return self.counts.get("pending", 0)


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker_id: str
    running: int
    lease_expires_at: float | None
    oldest_started_at: float | None


@dataclass(slots=True)
class Overview:
    now: float
    stats: dict[str, Any]
    queues: list[QueueRow]
    limits: list[dict[str, Any]]
    workers: list[WorkerRow]
    workers_partial: bool  # more running jobs than were scanned
    schedules: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)  # parts this store cannot show

    @property
    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = self.stats.get("by_status", {})
        return counts


@dataclass(frozen=True, slots=True)
class JobView:
    job: Job
    logs: list[LogEntry]
    now: float


def _attempt(what: str, fn: Callable[[], T], fallback: T, problems: list[str]) -> T:
    """Run one part of a page; a store that cannot do it yields `fallback` and a note, not an error page."""
    try:
        return fn()
    except ConveyorError as exc:
        problems.append(f"{what}: {exc}")
        return fallback


def _workers(app: Conveyor) -> tuple[list[WorkerRow], bool]:
    page = app.list(status=JobStatus.RUNNING, limit=RUNNING_SCAN)
    rows: dict[str, WorkerRow] = {}
    for job in page.jobs:
        wid = job.worker_id or "?"
        seen = rows.get(wid)
        started = [t for t in (job.started_at_ts, seen.oldest_started_at if seen else None) if t is not None]
        leases = [t for t in (job.lease_expires_at_ts, seen.lease_expires_at if seen else None) if t is not None]
        rows[wid] = WorkerRow(wid, (seen.running if seen else 0) + 1, max(leases, default=None),
                              min(started, default=None))
    return sorted(rows.values(), key=lambda w: w.worker_id), page.next_cursor is not None


def _queues(stats: dict[str, Any], limits: list[dict[str, Any]]) -> list[QueueRow]:
    paused = {lim["key"] for lim in limits if lim["scope"] == "queue" and lim["paused"]}
    by_queue: dict[str, dict[str, int]] = stats.get("by_queue", {})
    names = sorted(set(by_queue) | {lim["key"] for lim in limits if lim["scope"] == "queue"})
    return [QueueRow(name, dict(by_queue.get(name, {})), name in paused) for name in names]


def read_overview(app: Conveyor) -> Overview:
    problems: list[str] = []
    stats = app.stats()
    nothing: list[dict[str, Any]] = []
    limits = _attempt("limits", app.limits, nothing, problems)
    no_workers: tuple[list[WorkerRow], bool] = ([], False)
    workers, partial = _attempt("workers", lambda: _workers(app), no_workers, problems)
    schedules = _attempt("periodic schedules", app.periodic_schedules, nothing, problems)
    return Overview(app.clock.now(), stats, _queues(stats, limits), limits, workers, partial, schedules, problems)


def read_job(app: Conveyor, job_id: str, log_limit: int = 500) -> JobView:
    job = app.get(job_id)
    return JobView(job, app.logs(job_id, log_limit), app.clock.now())


def known_names(app: Conveyor, stats: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Job types and queues for the filter suggestions: registered handlers plus what the store
    holds (from an overview's stats: suggestions can be a second old)."""
    types = sorted(set(stats.get("by_type", {})) | set(app.handlers))
    return types, sorted(stats.get("by_queue", {}))
