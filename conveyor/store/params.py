"""One frozen parameter object per store operation; stores read these, never loose arguments."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..job import ClaimedJob, Job, JobId, LogEntry, NewJob, WorkerId
from ..outcome import Transition
from ..status import JobStatus
from ..webhooks.delivery import DeliveryState


@dataclass(frozen=True, slots=True)
class BatchInsert:
    """A batch (or workflow) parent's counters; its children carry `parent_id = batch_id`."""

    batch_id: JobId
    total: int
    max_concurrency: int | None = None
    fail_on_child_failure: bool = False  # workflows: the parent fails when a step failed


@dataclass(frozen=True, slots=True)
class JobInsert:
    jobs: tuple[NewJob, ...]
    batches: tuple[BatchInsert, ...] = ()
    # The caller's own DB connection (PostgreSQL: a psycopg Connection or AsyncConnection): the
    # jobs are written in its current transaction, so they exist only if the caller commits.
    connection: Any = None


@dataclass(frozen=True, slots=True)
class JobRun:
    """Jobs alike in all but id and parameters, as `enqueue_many` mostly gets them. A store
    writes a run with one statement, binding the shared columns once. The template holds those
    columns (its own job_id and parameters are ignored) and never has an idempotency key,
    dependencies or a batch: such jobs go through `JobInsert`."""

    template: NewJob
    job_ids: Sequence[JobId]
    parameters: Sequence[dict[str, Any]]

    def new_jobs(self) -> list[NewJob]:
        """The run as one `NewJob` each, for a store's row-by-row fallback."""
        pairs = zip(self.job_ids, self.parameters, strict=True)
        return [replace(self.template, job_id=i, parameters=p) for i, p in pairs]


@dataclass(frozen=True, slots=True)
class JobRunsInsert:
    runs: tuple[JobRun, ...]  # written in order, in one transaction


def runs_written(runs: Sequence[JobRun]) -> list[Job]:
    """The jobs `job_insert_runs` wrote, in order: what `enqueue_many` returns."""
    return [job for run in runs for job in Job.run_of(run.template, run.job_ids, run.parameters)]


def parse_cursor(text: str | None) -> int | None:
    """A list cursor is the last row's sequence number, as a store handed it out; refuse others."""
    from ..errors import InvalidJobOptions

    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidJobOptions("cursor is not one this store handed out", field="cursor")
    return int(text)


@dataclass(frozen=True, slots=True)
class JobGet:
    job_id: str


@dataclass(frozen=True, slots=True)
class JobList:
    status: JobStatus | None = None
    job_type: str | None = None
    queue: str | None = None
    parent_id: str | None = None
    limit: int = 50
    cursor: str | None = None  # newest first; the cursor is the last row's position


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Any]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class JobClaim:
    worker_id: WorkerId
    queues: tuple[str, ...] | None  # None: every queue
    limit: int
    now: float
    lease_seconds: float
    promote_due: bool = True  # move due scheduled jobs to pending first, in the same transaction
    wait: bool = True  # False: raise StoreBusy at once while another writer holds the lock (SQLite)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    jobs: list[ClaimedJob]
    next_scheduled_at: float | None  # earliest run_at still scheduled, if it was looked up
    limited: bool = False  # limits exist: finishing a job may let another worker start one
    next_check_at: float | None = None  # a rate limit earns its next token then


@dataclass(frozen=True, slots=True)
class LimitSet:
    scope: str  # "queue" or "job_type"
    key: str
    now: float
    max_running: int | None = None
    rate: tuple[int, float] | None = None  # (count, period seconds)


@dataclass(frozen=True, slots=True)
class LimitPause:
    scope: str
    key: str
    paused: bool
    now: float


@dataclass(frozen=True, slots=True)
class LimitDelete:
    scope: str
    key: str


@dataclass(frozen=True, slots=True)
class JobFinish:
    transitions: tuple[Transition, ...]
    now: float
    wait: bool = True  # False: raise StoreBusy at once while another writer holds the lock (SQLite)


class FinishBatch:
    """A `JobFinish` as both stores' job_finish.sql take it: one JSON document, so one statement
    walks the whole batch in C.

    One transition per fencing token (the first), as applying them one by one would leave it: a
    token's second transition would find the job no longer running, while which duplicate a
    single statement uses is unspecified."""

    def __init__(self, transitions: Sequence[Transition]) -> None:
        seen: set[tuple[str, int, str]] = set()
        self.transitions: list[Transition] = []
        for t in transitions:
            token = (t.job.job_id, t.job.attempt, t.job.worker_id)
            if token not in seen:
                seen.add(token)
                self.transitions.append(t)

    def rows_json(self) -> str:
        """[[id, job_id, attempt, worker_id, status, results, error, run_at, release], …], with
        results and error as JSON text inside a JSON string (stored as written)."""
        return json.dumps([
            [t.job.seq, t.job.job_id, t.job.attempt, t.job.worker_id, t.status.value,
             json_or_none(t.results) if t.status.is_terminal else None, json_or_none(t.error), t.run_at,
             1 if t.release else 0]
            for t in self.transitions
        ])

    def applied(self, matched: Iterable[str]) -> list[JobId]:
        """The ids the statement returned, in submission order (one transition per job can match)."""
        left = set(matched)
        out = []
        for t in self.transitions:
            if t.job.job_id in left:
                left.discard(t.job.job_id)
                out.append(t.job.job_id)
        return out


def json_or_none(value: Any) -> str | None:
    """A nullable JSON column's value, as both stores write it."""
    return None if value is None else json.dumps(value)


@dataclass(frozen=True, slots=True)
class JobHeartbeat:
    worker_id: WorkerId
    job_ids: tuple[JobId, ...]
    now: float
    lease_seconds: float


@dataclass(frozen=True, slots=True)
class JobRescue:
    now: float


@dataclass(frozen=True, slots=True)
class RescueResult:
    requeued: list[JobId]
    quarantined: list[JobId]  # failed with WORKER_CRASHED


@dataclass(frozen=True, slots=True)
class JobProgress:
    job_id: JobId
    attempt: int
    worker_id: WorkerId
    progress: dict[str, Any]
    now: float | None = None  # stamps the webhook outbox row (None: the store's clock)


@dataclass(frozen=True, slots=True)
class JobCheckpoint:
    job_id: JobId
    attempt: int
    worker_id: WorkerId
    data: Any


@dataclass(frozen=True, slots=True)
class JobCancel:
    job_id: str
    now: float
    reason: str = "cancelled by request"


@dataclass(frozen=True, slots=True)
class JobRetry:
    job_id: str
    now: float


@dataclass(frozen=True, slots=True)
class JobRetryFailed:
    now: float
    job_type: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class JobDelete:
    job_id: str


@dataclass(frozen=True, slots=True)
class JobPurge:
    finished_before: float
    statuses: tuple[JobStatus, ...] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class LogInsert:
    job_id: JobId
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class LogList:
    job_id: str
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class StatsRead:
    now: float
    window_seconds: float = 3600.0  # throughput and durations look at this recent window


@dataclass(frozen=True, slots=True)
class WorkerPark:
    """An idle worker's ticket (PostgreSQL): hand me the next new job of these queues. It holds
    while the worker's LISTEN session holds the advisory lock `lock_key` (see `WorkerLock`)."""

    worker_id: WorkerId
    lock_key: int
    queues: tuple[str, ...] | None  # None: every queue
    lease_seconds: float
    now: float


@dataclass(frozen=True, slots=True)
class WorkerLock:
    """Run on the worker's LISTEN connection each time it (re)connects: drop any ticket left from
    the last session, then take `lock_key` (a new one each session) for the tickets to come."""

    worker_id: WorkerId
    lock_key: int


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    worker_id: WorkerId
    now: float
    info: dict[str, Any] = field(default_factory=dict)
    stopping: bool = False


# -- webhook outbox (conveyor/webhooks) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookClaim:
    """Lease up to `limit` due callbacks (only the head of each job's line) to `owner`."""

    owner: str
    limit: int
    now: float
    lease_seconds: float
    progress_interval: float = 0.0  # min seconds between a job's progress callbacks


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """The outcome of attempt `attempt` of one delivery; fenced by (owner, attempt)."""

    delivery_id: str
    owner: str
    attempt: int
    state: DeliveryState  # PENDING: retry at `next_attempt_at`
    now: float
    next_attempt_at: float | None = None
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookList:
    job_id: str


# -- API keys, audit log, live events and metrics (the HTTP API's operations) -------------------


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key: never the key itself, only its SHA-256 (`key_hash`)."""

    key_id: str  # public, shown in listings: the key's prefix
    name: str
    scope: str  # read | write | admin (text at the storage edge; `apikeys.Scope` in code)
    key_hash: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyInsert:
    key_id: str
    name: str
    scope: str
    key_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ApiKeyFind:
    key_hash: str


@dataclass(frozen=True, slots=True)
class ApiKeyList:
    include_revoked: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyRevoke:
    name_or_id: str  # the active key(s) with this name, or the key with this key_id
    now: float


@dataclass(frozen=True, slots=True)
class ApiKeyTouch:
    key_id: str
    now: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: float
    actor: str
    action: str
    job_ids: tuple[str, ...]
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditInsert:
    at: float
    actor: str
    action: str
    job_ids: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditList:
    limit: int = 50
    cursor: str | None = None  # newest first; pass `next_cursor` back
    actor: str | None = None
    action: str | None = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditRecord]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class LogTail:
    """A job's log lines after position `after` (0: from the start), oldest first."""

    job_id: str
    after: int = 0
    limit: int = 500


@dataclass(frozen=True, slots=True)
class MetricsRead:
    """One Prometheus scrape: gauges now, plus what happened since the last scrape.

    `enqueued_after`: the cursor from the previous read (None: only establish the cursor).
    `finished_since`/`finished_until`: the finish-time window to count (None: only gauges)."""

    now: float
    enqueued_after: str | None = None
    finished_since: float | None = None
    finished_until: float | None = None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    counts: list[tuple[str, str, str, int]]  # (queue, job_type, status, n)
    oldest_pending: list[tuple[str, float]]  # (queue, earliest run_at of a pending job)
    enqueued: list[tuple[str, str, int]]  # (queue, job_type, n) inserted after `enqueued_after`
    enqueued_cursor: str | None
    finished: list[tuple[str, str, str, float | None]]  # (queue, job_type, status, duration)


@dataclass(frozen=True, slots=True)
class PeriodicUpsert:
    name: str
    schedule: str
    job_type: str
    parameters: dict[str, Any]
    options: dict[str, Any]
    missed: str
    next_run_at: float


@dataclass(frozen=True, slots=True)
class PeriodicFire:
    """Move `name` from tick `expected` to `next_run_at` and insert `jobs`, or do nothing if
    another process already did."""

    name: str
    expected: float
    next_run_at: float
    last_run_at: float
    jobs: tuple[NewJob, ...]


@dataclass(frozen=True, slots=True)
class PeriodicRow:
    name: str
    schedule: str
    job_type: str
    parameters: dict[str, Any]
    options: dict[str, Any]
    missed: str
    next_run_at: float
    last_run_at: float | None
    last_job_id: str | None
