"""The `Store` protocol: one method per operation, each taking one params object (see params.py)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..job import ClaimedJob, Job, JobId, LogEntry, WorkerId
from ..webhooks.delivery import WebhookDelivery
from .limits import Limit
from .params import (
    ApiKeyFind,
    ApiKeyInsert,
    ApiKeyList,
    ApiKeyRecord,
    ApiKeyRevoke,
    ApiKeyTouch,
    AuditInsert,
    AuditList,
    AuditPage,
    ClaimResult,
    JobCancel,
    JobCheckpoint,
    JobClaim,
    JobDelete,
    JobFinish,
    JobGet,
    JobHeartbeat,
    JobInsert,
    JobList,
    JobPage,
    JobProgress,
    JobPurge,
    JobRescue,
    JobRetry,
    JobRetryFailed,
    JobRunsInsert,
    LimitDelete,
    LimitPause,
    LimitSet,
    LogInsert,
    LogList,
    LogTail,
    MetricsRead,
    MetricsSnapshot,
    PeriodicFire,
    PeriodicRow,
    PeriodicUpsert,
    RescueResult,
    StatsRead,
    WebhookClaim,
    WebhookList,
    WebhookRecord,
    WorkerBeat,
    WorkerLock,
    WorkerPark,
)


class Wakeup(Protocol):
    """Pushed notifications between processes sharing a store (new work, cancellations)."""

    def notify(self, message: str) -> None:
        """Tell every listening worker; never raises, never blocks for long."""
        ...

    def listen(self) -> Listener: ...


class Listener(Protocol):
    def fileno(self) -> int:
        """Readable when messages are waiting (for `loop.add_reader`)."""
        ...

    def drain(self) -> list[str]:
        """The messages waiting, without blocking."""
        ...

    def close(self) -> None: ...


class ListenerHook(Protocol):
    """Acts on a listener's own thread (PgListener.intercept), where its store statements run on
    the LISTEN connection itself: an idle worker claims there the moment a wake-up arrives, and
    keeps its hand-off ticket in that session. None of these may raise."""

    def on_messages(self, messages: list[str]) -> list[str]:
        """A batch of messages as it arrives; returns those still to hand over to `drain()`."""
        ...

    def on_connect(self) -> None:
        """A new session (the first, or after a reconnect), before any other call in it."""
        ...

    def on_poke(self, connected: bool) -> None:
        """Someone called `poke()`; `connected` False: between sessions (no statements then)."""
        ...

    def on_disconnect(self) -> None:
        """The session is gone, and with it what it held."""
        ...


class Store(Protocol):
    dialect: str
    url: str
    # True: job_insert and job_insert_runs wake the workers themselves, in the insert's own
    # transaction (PostgreSQL NOTIFY); False: the caller announces new jobs after the insert.
    announces_inserts: bool

    @property
    def wakeup(self) -> Wakeup: ...

    def migrate(self) -> None:
        """Apply pending migrations; safe when several processes start at once."""
        ...

    def schema_version(self) -> int: ...
    def latest_version(self) -> int: ...
    def close(self) -> None: ...

    def job_insert(self, p: JobInsert) -> list[tuple[Job, bool]]:
        """Insert in one transaction; each result says whether it was created (False: an
        existing non-terminal job with the same idempotency key was returned instead)."""
        ...

    def job_insert_runs(self, p: JobRunsInsert) -> list[Job]:
        """Insert runs of alike jobs (none with an idempotency key) in one transaction; returns
        the jobs written, in order."""
        ...

    def job_get(self, p: JobGet) -> Job | None: ...
    def job_dependency_results(self, p: JobGet) -> dict[str, Any]: ...
    def job_list(self, p: JobList) -> JobPage: ...
    def job_claim(self, p: JobClaim) -> ClaimResult: ...

    def periodic_upsert(self, p: PeriodicUpsert) -> None: ...
    def periodic_list(self) -> list[PeriodicRow]: ...

    def periodic_fire(self, p: PeriodicFire) -> list[Job] | None:
        """Insert the tick's jobs if this call advanced the schedule; None if another process did."""
        ...

    def limit_set(self, p: LimitSet) -> None: ...
    def limit_pause(self, p: LimitPause) -> None: ...
    def limit_delete(self, p: LimitDelete) -> None: ...
    def limit_list(self) -> list[Limit]: ...

    def job_finish(self, p: JobFinish) -> list[JobId]:
        """Apply fenced transitions; returns the ids whose transition took effect."""
        ...

    def job_heartbeat(self, p: JobHeartbeat) -> list[JobId]:
        """Extend the leases; returns the ids this worker no longer owns (cancelled or lost)."""
        ...

    def job_rescue_expired(self, p: JobRescue) -> RescueResult: ...
    def job_next_lease_expiry(self) -> float | None: ...
    def job_progress(self, p: JobProgress) -> bool: ...
    def job_checkpoint(self, p: JobCheckpoint) -> bool: ...
    def job_cancel(self, p: JobCancel) -> Job | None: ...
    def job_retry(self, p: JobRetry) -> Job | None: ...
    def job_retry_failed(self, p: JobRetryFailed) -> int: ...
    def job_delete(self, p: JobDelete) -> bool: ...
    def job_purge(self, p: JobPurge) -> int: ...
    def log_insert(self, p: LogInsert) -> None: ...
    def log_list(self, p: LogList) -> list[LogEntry]: ...
    def stats_read(self, p: StatsRead) -> dict[str, Any]: ...
    def worker_beat(self, p: WorkerBeat) -> None: ...

    # -- API keys, audit log, live events, metrics (the HTTP API) ------------------------------
    def api_key_insert(self, p: ApiKeyInsert) -> ApiKeyRecord | None:
        """Store a new key's hash; None (nothing written) when an active key has that name."""
        ...

    def api_key_find(self, p: ApiKeyFind) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not (the caller checks `revoked_at`)."""
        ...

    def api_key_list(self, p: ApiKeyList) -> list[ApiKeyRecord]: ...

    def api_key_revoke(self, p: ApiKeyRevoke) -> list[ApiKeyRecord]:
        """Revoke the active key(s) with this name or key id; returns the ones revoked."""
        ...

    def api_key_touch(self, p: ApiKeyTouch) -> None: ...

    def audit_insert(self, p: AuditInsert) -> int:
        """Append one audit entry; returns its sequence number."""
        ...

    def audit_list(self, p: AuditList) -> AuditPage:
        """Entries newest first, filtered; `next_cursor` continues the listing."""
        ...

    def log_tail(self, p: LogTail) -> list[tuple[int, LogEntry]]:
        """A job's log lines after a position, oldest first, each with its position."""
        ...

    def metrics_read(self, p: MetricsRead) -> MetricsSnapshot:
        """Everything one Prometheus scrape needs, read from the store (so it counts the work
        of every process sharing it)."""
        ...

    # Webhook outbox. Rows are written by job_progress / job_finish / job_cancel /
    # job_rescue_expired in the state change's transaction, for jobs that have a webhook.
    def webhook_claim(self, p: WebhookClaim) -> list[WebhookDelivery]:
        """Lease due callbacks, at most one per job (the oldest undelivered), counting an attempt."""
        ...

    def webhook_record(self, p: WebhookRecord) -> bool:
        """Write one attempt's outcome; False if the lease was lost (another dispatcher owns it)."""
        ...

    def webhook_list(self, p: WebhookList) -> list[WebhookDelivery]:
        """A job's callbacks in order, with their attempts and outcome."""
        ...

    def webhook_next_due(self) -> float | None:
        """The earliest time an undelivered callback may be tried, or None when there is none."""
        ...


@runtime_checkable
class HandOff(Protocol):
    """A store that hands a new job straight to an idle worker parked for it (PostgreSQL, where
    a claim is a network round trip): the enqueue writes the job already claimed by that worker
    and the wake-up carries the job. The worker calls these on its wake-up listener's thread,
    whose statements run on the LISTEN connection (the session that holds the ticket's lock)."""

    def worker_lock(self, p: WorkerLock) -> bool:
        """Drop this worker's old ticket and take the session lock; False if it is taken."""
        ...

    def worker_park(self, p: WorkerPark) -> None: ...

    def worker_unpark(self, p: WorkerLock) -> bool:
        """Withdraw the ticket; False if it was gone: a job was handed over meanwhile, and its
        wake-up is on the way."""
        ...

    def handed_job(self, message: str, worker_id: WorkerId) -> ClaimedJob | None:
        """The job a wake-up hands to `worker_id`, or None if the message is not one for it."""
        ...
