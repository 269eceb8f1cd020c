"""`Conveyor`: the handler registry, the store and the settings, and the job operations users call.

The operations are sync (they are a few microseconds of SQL on the caller's thread); each has an
`*_async` twin that runs the same code on a worker thread, so there is one implementation.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import functools
import inspect
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .clock import Clock, SystemClock, to_iso
from .errors import (
    InvalidJobOptions,
    InvalidParameters,
    InvalidTransition,
    JobNotFound,
    StoreError,
    UnknownJobType,
)
from .handler import Handler, HandlerFn
from .job import (
    DEFAULT_PRIORITY,
    DEFAULT_QUEUE,
    MAX_PRIORITY,
    MIN_PRIORITY,
    Job,
    JobId,
    LogEntry,
    NewJob,
    new_job_id,
    new_job_ids,
)
from .maintenance.cron import MISSED_POLICIES, Periodic, validate_schedule
from .retry import RetryPolicy
from .settings import Settings, load_settings
from .status import JobStatus
from .store import Store, open_store
from .store.limits import parse_rate
from .store.params import (
    BatchInsert,
    JobCancel,
    JobDelete,
    JobGet,
    JobInsert,
    JobList,
    JobPage,
    JobPurge,
    JobRetry,
    JobRetryFailed,
    JobRun,
    JobRunsInsert,
    LimitDelete,
    LimitPause,
    LimitSet,
    LogInsert,
    LogList,
    StatsRead,
    WebhookList,
)
from .webhooks import WebhookDelivery, validate_webhook

if TYPE_CHECKING:
    from .workflow import Node, WorkflowHandle

P = ParamSpec("P")
R = TypeVar("R")

MAX_QUEUE_NAME = 200
MAX_KEY_LENGTH = 255


class WaitTimeout(TimeoutError):
    """`wait()` ran out of time; `.job` is the job as last seen."""

    def __init__(self, job: Job, timeout: float) -> None:
        super().__init__(f"job {job.job_id} still {job.status.value} after {timeout}s")
        self.job = job


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job for `enqueue_many`: a type, its parameters and the same options as `enqueue`."""

    job_type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def _async_twin(fn: Callable[P, R]) -> Callable[P, Any]:
    @functools.wraps(fn)
    async def twin(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(fn, *args, **kwargs)

    twin.__name__ = f"{fn.__name__}_async"
    twin.__doc__ = f"Async twin of `{fn.__name__}`."
    return twin


def _is_async_connection(connection: Any) -> bool:
    return connection is not None and inspect.iscoroutinefunction(getattr(connection, "execute", None))


def _seconds(value: float | int | timedelta | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidJobOptions(f"{name} must be a number of seconds or a timedelta", field=name)
    return float(value)


def _timestamp(value: datetime | float | int | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidJobOptions(f"run_at {value!r} is not an ISO-8601 time", field="run_at") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # naive times are UTC, like every stored time
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJobOptions("run_at must be a datetime, ISO-8601 text or epoch seconds", field="run_at")
    return float(value)


def _check_dict(parameters: Any) -> None:
    if not isinstance(parameters, dict):
        raise InvalidParameters("parameters must be a JSON object", field="parameters")


def _check_options(
    queue: Any, priority: Any, max_attempts: Any, idempotency_key: Any, metadata: Any
) -> None:
    if not isinstance(queue, str) or len(queue) > MAX_QUEUE_NAME:
        raise InvalidJobOptions(f"queue must be a string of at most {MAX_QUEUE_NAME} characters", field="queue")
    if isinstance(priority, bool) or not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidJobOptions(f"priority must be an integer {MIN_PRIORITY}–{MAX_PRIORITY}", field="priority")
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= 1000:
        raise InvalidJobOptions("max_attempts must be an integer 1–1000", field="max_attempts")
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= MAX_KEY_LENGTH
    ):
        raise InvalidJobOptions(f"idempotency_key must be 1–{MAX_KEY_LENGTH} characters", field="idempotency_key")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidJobOptions("metadata must be an object", field="metadata")


class Conveyor:
    """The application object: register handlers, enqueue and inspect jobs, run workers."""

    def __init__(
        self,
        database_url: str | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        base = settings or load_settings()
        self.settings = base.merged(database_url=database_url) if database_url else base
        self.clock: Clock = clock or SystemClock()
        self.retry_policy = retry_policy or RetryPolicy(
            self.settings.retry_base_seconds, self.settings.retry_max_seconds
        )
        self._handlers: dict[str, Handler] = {}
        self.periodic_jobs: dict[str, Periodic] = {}
        self._store: Store | None = None
        self._store_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Conveyor({self.settings.database_url!r}, handlers={sorted(self._handlers)})"

    # -- wiring --------------------------------------------------------------------------------

    def configure(self, **overrides: Any) -> None:
        """Apply setting overrides (CLI flags) before the store is first used."""
        if self._store is not None and overrides.get("database_url") not in (None, self.settings.database_url):
            raise RuntimeError("configure(database_url=…) after the store was opened")
        self.settings = self.settings.merged(**overrides)
        self.retry_policy = RetryPolicy(self.settings.retry_base_seconds, self.settings.retry_max_seconds)

    def open(self, *, create: bool = True) -> Store:
        """Open (and by default create and migrate) the store; later calls return the same one."""
        with self._store_lock:
            if self._store is None:
                store = open_store(self.settings.database_url, create=create)
                try:
                    if create and self.settings.auto_migrate:
                        store.migrate()
                    elif store.schema_version() < store.latest_version():
                        raise StoreError(
                            f"database {self.settings.database_url} has no Conveyor schema "
                            "(or an old one): run `conveyor migrate`"
                        )
                except BaseException:
                    store.close()
                    raise
                self._store = store
            return self._store

    @property
    def store(self) -> Store:
        return self._store if self._store is not None else self.open()

    def close(self) -> None:
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Conveyor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- handlers ------------------------------------------------------------------------------

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return self._handlers

    def register(
        self,
        job_type: str,
        fn: HandlerFn,
        *,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | tuple[int, float] | None = None,
    ) -> Handler:
        if not job_type or not isinstance(job_type, str):
            raise ValueError("job_type must be a non-empty string")
        if job_type in self._handlers:
            raise ValueError(f"a handler for {job_type!r} is already registered")
        if concurrency_limit is not None and (not isinstance(concurrency_limit, int) or concurrency_limit < 1):
            raise ValueError("concurrency_limit must be a positive integer")
        handler = Handler.build(
            job_type, fn, queue=queue, priority=priority, max_attempts=max_attempts, timeout=timeout,
            concurrency_limit=concurrency_limit, rate_limit=parse_rate(rate_limit),
        )
        self._handlers[job_type] = handler
        return handler

    def handler(
        self,
        job_type: str,
        *,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        concurrency_limit: int | None = None,
        rate_limit: str | tuple[int, float] | None = None,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Decorator form of `register`."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            self.register(job_type, fn, queue=queue, priority=priority, max_attempts=max_attempts, timeout=timeout,
                          concurrency_limit=concurrency_limit, rate_limit=rate_limit)
            return fn

        return decorate

    def periodic(
        self,
        schedule: str,
        *,
        name: str | None = None,
        job_type: str | None = None,
        parameters: dict[str, Any] | None = None,
        missed: str = "run_once",
        **options: Any,
    ) -> Callable[[HandlerFn], HandlerFn]:
        """Decorator: register `fn` as the handler of `job_type` (default: its name) and enqueue
        it on a cron `schedule` ("0 * * * *"; a sixth field adds seconds). `missed`: what to do
        with ticks that passed while no worker ran: "run_once" (default), "run_all" or "skip"."""

        def decorate(fn: HandlerFn) -> HandlerFn:
            kind = job_type or fn.__name__
            if kind not in self._handlers:
                self.register(kind, fn)
            self.add_periodic(name or kind, schedule, kind, parameters, missed=missed, **options)
            return fn

        return decorate

    def add_periodic(
        self,
        name: str,
        schedule: str,
        job_type: str,
        parameters: dict[str, Any] | None = None,
        *,
        missed: str = "run_once",
        **options: Any,
    ) -> Periodic:
        """Enqueue `job_type` on a cron schedule; workers of this app fire it exactly once per tick."""
        validate_schedule(schedule)
        if missed not in MISSED_POLICIES:
            raise ValueError(f"missed must be one of {', '.join(MISSED_POLICIES)}")
        if name in self.periodic_jobs:
            raise ValueError(f"a periodic job named {name!r} is already registered")
        self.build_job(job_type, parameters, **options)  # refuse bad options now, not at the first tick
        periodic = Periodic(name, schedule, job_type, dict(parameters or {}), dict(options), missed)
        self.periodic_jobs[name] = periodic
        return periodic

    def periodic_schedules(self) -> builtins.list[dict[str, Any]]:
        """Every stored schedule with its next run time (as the workers registered them)."""
        return [
            {"name": r.name, "schedule": r.schedule, "job_type": r.job_type, "missed": r.missed,
             "next_run_at": to_iso(r.next_run_at), "last_run_at": to_iso(r.last_run_at),
             "last_job_id": r.last_job_id}
            for r in self.store.periodic_list()
        ]

    # -- fleet-wide limits ---------------------------------------------------------------------

    @staticmethod
    def _limit_key(queue: str | None, job_type: str | None) -> tuple[str, str]:
        if (queue is None) == (job_type is None):
            raise InvalidJobOptions("give exactly one of queue= or job_type=", field="queue")
        return ("queue", queue) if queue is not None else ("job_type", job_type)  # type: ignore[return-value]

    def set_limit(
        self,
        *,
        queue: str | None = None,
        job_type: str | None = None,
        concurrency: int | None = None,
        rate: str | tuple[int, float] | None = None,
    ) -> None:
        """Bound, across every worker, how many jobs of a queue or type run at once (`concurrency`)
        and how many start per period (`rate`, e.g. "10/s")."""
        scope, key = self._limit_key(queue, job_type)
        if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                        or concurrency < 1):
            raise InvalidJobOptions("concurrency must be a positive integer", field="concurrency")
        try:
            parsed = parse_rate(rate)
        except ValueError as exc:
            raise InvalidJobOptions(str(exc), field="rate") from None
        self.store.limit_set(LimitSet(scope, key, self.clock.now(), concurrency, parsed))
        self.store.wakeup.notify("j:*")

    def clear_limit(self, *, queue: str | None = None, job_type: str | None = None) -> None:
        scope, key = self._limit_key(queue, job_type)
        self.store.limit_delete(LimitDelete(scope, key))
        self.store.wakeup.notify("j:*")

    def pause_queue(self, queue: str) -> None:
        """Stop every worker from starting jobs of `queue` (running ones finish)."""
        self.store.limit_pause(LimitPause("queue", queue, True, self.clock.now()))

    def resume_queue(self, queue: str) -> None:
        self.store.limit_pause(LimitPause("queue", queue, False, self.clock.now()))
        self.store.wakeup.notify(f"j:{queue}")

    def limits(self) -> builtins.list[dict[str, Any]]:
        return [
            {"scope": lim.scope, "key": lim.key, "concurrency": lim.max_running,
             "rate": f"{lim.rate_count}/{lim.rate_period:g}s" if lim.rate_count else None, "paused": lim.paused}
            for lim in self.store.limit_list()
        ]

    # -- enqueue -------------------------------------------------------------------------------

    def build_job(
        self,
        job_type: str,
        parameters: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        priority: int | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | float | str | None = None,
        max_attempts: int | None = None,
        timeout: float | timedelta | None = None,
        idempotency_key: str | None = None,
        depends_on: Sequence[str] = (),
        webhook: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        parent_id: str | None = None,
        on_dependency_failure: str = "cancel",
        now: float | None = None,
    ) -> NewJob:
        """Validate one job's type, parameters and options into a `NewJob` (no I/O)."""
        if not isinstance(job_type, str) or not job_type.strip():
            raise InvalidJobOptions("job_type must be a non-empty string", field="job_type")
        parameters = {} if parameters is None else parameters
        handler = self._handlers.get(job_type)
        if handler is None and self._handlers:
            raise UnknownJobType(job_type)
        if handler is not None:
            handler.validate(parameters)
        elif not isinstance(parameters, dict):
            raise InvalidParameters("parameters must be a JSON object", field="parameters")
        now = self.clock.now() if now is None else now
        queue = queue or (handler.queue if handler else None) or DEFAULT_QUEUE
        if priority is None:
            priority = handler.priority if handler and handler.priority is not None else DEFAULT_PRIORITY
        if max_attempts is None:
            max_attempts = handler.max_attempts if handler and handler.max_attempts else self.settings.max_attempts
        _check_options(queue, priority, max_attempts, idempotency_key, metadata)
        delay_s = _seconds(delay, "delay")
        if delay_s is not None and delay_s < 0:
            raise InvalidJobOptions("delay must not be negative", field="delay")
        at = _timestamp(run_at)
        if at is not None and delay_s is not None:
            raise InvalidJobOptions("give delay or run_at, not both", field="run_at")
        due = at if at is not None else now + (delay_s or 0.0)
        timeout_s = _seconds(timeout, "timeout")
        if timeout_s is not None and timeout_s <= 0:
            raise InvalidJobOptions("timeout must be positive", field="timeout")
        if on_dependency_failure not in ("cancel", "run"):
            raise InvalidJobOptions("on_dependency_failure must be 'cancel' or 'run'", field="on_dependency_failure")
        if isinstance(depends_on, str) or not all(isinstance(d, str) and d for d in depends_on):
            raise InvalidJobOptions("depends_on must be a list of job ids", field="depends_on")
        deps = tuple(dict.fromkeys(JobId(d) for d in depends_on))
        status = JobStatus.WAITING if deps else (JobStatus.SCHEDULED if due > now else JobStatus.PENDING)
        return NewJob(
            job_id=new_job_id(),
            job_type=job_type,
            queue=queue,
            priority=priority,
            parameters=parameters,
            status=status,
            run_at=due,
            max_attempts=max_attempts,
            max_crashes=self.settings.max_crashes,
            timeout=timeout_s,
            created_at=now,
            idempotency_key=idempotency_key,
            depends_on=deps,
            parent_id=JobId(parent_id) if parent_id else None,
            webhook=validate_webhook(webhook, self.settings.webhook_allowed_hosts),
            metadata=metadata or {},
        )

    def insert(
        self, jobs: Sequence[NewJob], batches: Sequence[BatchInsert] = (), connection: Any = None
    ) -> list[Job]:
        """Write validated jobs in one transaction and wake the workers that serve them. With
        `connection` (PostgreSQL), in the caller's open transaction: no job and no wake-up unless
        the caller commits."""
        if not jobs:
            return []
        self._check_connection(connection)
        results = self.store.job_insert(JobInsert(tuple(jobs), tuple(batches), connection))
        if connection is None and not self.store.announces_inserts:  # else the store sent the wake-ups
            self.announce(job for job, created in results if created)
        return [job for job, _ in results]

    def _check_connection(self, connection: Any) -> None:
        if connection is not None and self.store.dialect != "postgresql":
            raise StoreError(
                f"connection= (enqueue in your own transaction) needs the PostgreSQL store, not {self.store.dialect}"
            )

    async def _insert_async(self, jobs: Sequence[NewJob], connection: Any) -> list[Job]:
        store = self._store or await asyncio.to_thread(self.open)
        self._check_connection(connection)
        insert_async = getattr(store, "job_insert_async")  # noqa: B009 - PostgreSQL only
        results = await insert_async(JobInsert(tuple(jobs), connection=connection))
        return [job for job, _ in results]

    def announce(self, jobs: Iterable[Job]) -> None:
        """Wake the workers that serve these newly stored jobs."""
        self._wake([(job.status, job.queue, job.run_at_ts) for job in jobs])

    def _wake(self, stored: Iterable[tuple[JobStatus, str, float]]) -> None:
        """Wake the workers of each queue that got a pending job, and the scheduler if a job is due later."""
        queues: set[str] = set()
        earliest: float | None = None
        for status, queue, run_at in stored:
            if status is JobStatus.PENDING:
                queues.add(queue)
            elif status is JobStatus.SCHEDULED:
                earliest = run_at if earliest is None else min(earliest, run_at)
        for queue in queues:
            self.store.wakeup.notify(f"j:{queue}")
        if earliest is not None:
            self.store.wakeup.notify(f"s:{earliest}")

    def enqueue(
        self, job_type: str, parameters: dict[str, Any] | None = None, *, connection: Any = None, **options: Any
    ) -> Job:
        """Persist one job and return it; durable once this returns. Options: see `build_job`.
        `connection`: a psycopg connection to the store's database (PostgreSQL): the job is
        written in its current transaction, so it exists (and runs) only if the caller commits."""
        return self.insert([self.build_job(job_type, parameters, **options)], connection=connection)[0]

    def enqueue_many(self, jobs: Iterable[JobSpec | tuple[Any, ...]], *, connection: Any = None) -> list[Job]:
        """Persist many jobs in one transaction: `(job_type, params)`, `(job_type, params,
        options)` or `JobSpec` items. All or nothing: one invalid item rejects the whole call.
        `connection`: as for `enqueue`."""
        items = jobs if isinstance(jobs, list) else list(jobs)
        now = self.clock.now()
        runs = self._runs(items, now) if connection is None else None
        if runs is None:
            return self.insert(self._build_specs(items, now), connection=connection)
        if not runs:
            return []
        written = self.store.job_insert_runs(JobRunsInsert(tuple(runs)))
        if not self.store.announces_inserts:
            self._wake((run.template.status, run.template.queue, run.template.run_at) for run in runs)
        return written

    def _runs(self, items: Sequence[Any], now: float) -> list[JobRun] | None:
        """`items` as runs of consecutive jobs that share a type and options (the same options
        object), validated; None when an item needs the general path (a `JobSpec`, an
        idempotency key, dependencies)."""
        ids = new_job_ids(len(items))
        runs: list[JobRun] = []
        job_type: Any = None
        options: Any = None
        validate: Callable[[Any], None] = _check_dict
        run_ids: list[JobId] = []
        run_params: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if type(item) is not tuple or not 2 <= len(item) <= 3:
                return None
            params = item[1] if item[1] is not None else {}
            if item[0] != job_type or (item[2] if len(item) == 3 else None) is not options:
                job_type, options = item[0], item[2] if len(item) == 3 else None
                if options is not None and not isinstance(options, Mapping):
                    return None
                template = self._template(index, job_type, params, now, options or {})
                if template is None:
                    return None
                handler = self._handlers.get(job_type)
                validate = handler.validate if handler is not None else _check_dict
                run_ids, run_params = [], []
                runs.append(JobRun(template, run_ids, run_params))
            else:
                try:
                    validate(params)
                except InvalidParameters as exc:
                    exc.args = (f"jobs[{index}]: {exc}",)
                    raise
            run_ids.append(ids[index])
            run_params.append(params)
        return runs

    def _template(
        self, index: int, job_type: Any, params: Any, now: float, options: Mapping[str, Any]
    ) -> NewJob | None:
        """The first job of a run, built and validated in full: the rest of the run shares all of
        it but id and parameters. None if these options make a job a run cannot hold."""
        try:
            template = self.build_job(job_type, params, now=now, **options)
        except (InvalidJobOptions, InvalidParameters, UnknownJobType) as exc:
            exc.args = (f"jobs[{index}]: {exc}",)
            raise
        if template.idempotency_key is not None or template.depends_on or template.parent_id is not None:
            return None
        return template

    async def enqueue_async(
        self, job_type: str, parameters: dict[str, Any] | None = None, *, connection: Any = None, **options: Any
    ) -> Job:
        """Async twin of `enqueue`; `connection` may be a psycopg `AsyncConnection`."""
        if not _is_async_connection(connection):
            return await asyncio.to_thread(self.enqueue, job_type, parameters, connection=connection, **options)
        return (await self._insert_async([self.build_job(job_type, parameters, **options)], connection))[0]

    async def enqueue_many_async(
        self, jobs: Iterable[JobSpec | tuple[Any, ...]], *, connection: Any = None
    ) -> list[Job]:
        """Async twin of `enqueue_many`; `connection` may be a psycopg `AsyncConnection`."""
        if not _is_async_connection(connection):
            return await asyncio.to_thread(self.enqueue_many, jobs, connection=connection)
        return await self._insert_async(self._build_specs(jobs, self.clock.now()), connection)

    def _build_specs(self, specs: Iterable[JobSpec | tuple[Any, ...]], now: float, **common: Any) -> list[NewJob]:
        built = []
        for index, item in enumerate(specs):
            if type(item) is tuple and len(item) == 2:  # (job_type, params): skip the JobSpec (hot path)
                job_type, parameters, options = item[0], item[1], common
            else:
                spec = item if isinstance(item, JobSpec) else JobSpec(*item)
                job_type, parameters, options = spec.job_type, spec.parameters, {**dict(spec.options), **common}
            try:
                built.append(self.build_job(job_type, parameters, now=now, **options))
            except (InvalidJobOptions, InvalidParameters, UnknownJobType) as exc:
                exc.args = (f"jobs[{index}]: {exc}",)
                raise
        return built

    def _parent(self, job_type: str, now: float, parameters: dict[str, Any], **options: Any) -> NewJob:
        """A bookkeeping parent: never claimed; the store's triggers finish it with its children."""
        return NewJob(
            job_id=new_job_id(), job_type=job_type, queue=options.get("queue") or DEFAULT_QUEUE,
            priority=DEFAULT_PRIORITY, parameters=parameters, status=JobStatus.WAITING, run_at=now,
            max_attempts=1, max_crashes=self.settings.max_crashes, timeout=None, created_at=now,
            idempotency_key=options.get("idempotency_key"), webhook=options.get("webhook"),
            metadata=options.get("metadata") or {},
        )

    def batch(
        self,
        jobs: Iterable[JobSpec | tuple[Any, ...]],
        *,
        max_concurrency: int | None = None,
        **parent_options: Any,
    ) -> Job:
        """Enqueue a parent job whose children hold the work, in one transaction. The parent's
        progress is the fraction of children finished; it completes when all are terminal with
        results `{total, completed, failed, cancelled, child_ids}`; cancelling it cancels the
        unfinished children; at most `max_concurrency` children are due at once, fleet-wide."""
        now = self.clock.now()
        specs = list(jobs)
        parent_id = new_job_id()
        children = self._build_specs(specs, now, parent_id=parent_id)
        rows, batch = self.batch_rows(children, max_concurrency=max_concurrency, parent_id=parent_id, now=now,
                                      **parent_options)
        return self.insert(rows, [batch])[0]

    def batch_rows(
        self,
        children: Sequence[NewJob],
        *,
        max_concurrency: int | None = None,
        parent_id: JobId | None = None,
        now: float | None = None,
        **parent_options: Any,
    ) -> tuple[builtins.list[NewJob], BatchInsert]:
        """The parent and children rows of a batch (children built with `parent_id`), for `insert`."""
        from .workflow import BATCH_TYPE

        if max_concurrency is not None and (isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
                                            or max_concurrency < 1):
            raise InvalidJobOptions("max_concurrency must be a positive integer", field="max_concurrency")
        if not children:
            raise InvalidJobOptions("a batch needs at least one job", field="jobs")
        now = self.clock.now() if now is None else now
        parent = self._parent(BATCH_TYPE, now, {"size": len(children), "max_concurrency": max_concurrency},
                              **parent_options)
        if parent_id is not None:
            parent = dataclasses.replace(parent, job_id=parent_id)
        rows = [
            dataclasses.replace(child, parent_id=parent.job_id, status=JobStatus.WAITING, held=True)
            if max_concurrency is not None and index >= max_concurrency
            else dataclasses.replace(child, parent_id=parent.job_id)
            for index, child in enumerate(children)
        ]
        return [parent, *rows], BatchInsert(parent.job_id, len(rows), max_concurrency)

    def enqueue_workflow(self, workflow: Node, **parent_options: Any) -> WorkflowHandle:
        """Enqueue a `chain`/`group` graph atomically; returns a handle on its parent job."""
        from .workflow import WORKFLOW_TYPE, WorkflowHandle, flatten

        now = self.clock.now()
        parent = self._parent(WORKFLOW_TYPE, now, {}, **parent_options)
        steps: list[NewJob] = []

        def build(spec: JobSpec, after: tuple[JobId, ...]) -> NewJob:
            options = {**dict(spec.options), "parent_id": parent.job_id, "now": now}
            options["depends_on"] = (*after, *options.get("depends_on", ()))
            return self.build_job(spec.job_type, spec.parameters, **options)

        tails = flatten(workflow, (), build, steps)
        parent = dataclasses.replace(parent, parameters={"steps": len(steps)})
        batch = BatchInsert(parent.job_id, len(steps), None, fail_on_child_failure=True)
        self.insert([parent, *steps], [batch])
        return WorkflowHandle(self, parent.job_id, tuple(s.job_id for s in steps), tails)

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self.store.job_get(JobGet(str(job_id)))
        if job is None:
            raise JobNotFound(str(job_id))
        return job

    def wait(self, job_id: str, timeout: float = 30.0, poll: float = 0.02) -> Job:
        """Block until the job is terminal; raises `WaitTimeout` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = min(poll, 0.005)
        while True:
            job = self.get(job_id)
            if job.status.is_terminal:
                return job
            if time.monotonic() >= deadline:
                raise WaitTimeout(job, timeout)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, max(poll, 0.2))

    def list(
        self,
        status: JobStatus | str | None = None,
        job_type: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        parent_id: str | None = None,
    ) -> JobPage:
        """A page of jobs, newest first; pass `page.next_cursor` back for the next page."""
        if status is not None:
            try:
                status = JobStatus(status)
            except ValueError:
                names = ", ".join(s.value for s in JobStatus)
                raise InvalidJobOptions(f"unknown status {status!r}; one of: {names}", field="status") from None
        if not 1 <= int(limit) <= 1000:
            raise InvalidJobOptions("limit must be 1–1000", field="limit")
        return self.store.job_list(JobList(status, job_type, queue, parent_id, int(limit), cursor))

    def logs(self, job_id: str, limit: int = 1000) -> builtins.list[LogEntry]:
        return self.store.log_list(LogList(str(job_id), limit))

    def stats(self) -> dict[str, Any]:
        return self.store.stats_read(StatsRead(self.clock.now()))

    def webhook_deliveries(self, job_id: str) -> builtins.list[WebhookDelivery]:
        """The job's webhook callbacks in order, with their attempts and outcome."""
        return self.store.webhook_list(WebhookList(str(job_id)))

    # -- admin actions -------------------------------------------------------------------------

    def _note(self, job_id: str, message: str, level: str = "info") -> None:
        self.store.log_insert(LogInsert(JobId(job_id), (LogEntry(self.clock.now(), level, message),)))

    def cancel(self, job_id: str, reason: str = "cancelled by request") -> Job:
        before = self.get(job_id)
        job = self.store.job_cancel(JobCancel(str(job_id), self.clock.now(), reason))
        if job is None:
            raise JobNotFound(str(job_id))
        if job.status is not JobStatus.CANCELLED or before.status.is_terminal:
            raise InvalidTransition(
                f"job {job_id} is already {before.status.value}; only unfinished jobs can be cancelled"
            )
        self._note(job.job_id, reason, "warning")
        if before.status is JobStatus.RUNNING:
            self.store.wakeup.notify(f"c:{job.job_id}")
        return job

    def retry(self, job_id: str) -> Job:
        before = self.get(job_id)
        if before.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidTransition(
                f"job {before.job_id} is {before.status.value}; only failed or cancelled jobs can be retried"
            )
        job = self.store.job_retry(JobRetry(str(job_id), self.clock.now()))
        if job is None:
            raise JobNotFound(str(job_id))
        if job.status is not JobStatus.PENDING or job.attempt != 0:
            raise InvalidTransition(f"job {job_id} is {job.status.value}; only failed or cancelled jobs can be retried")
        self._note(job.job_id, "retried by request")
        self.store.wakeup.notify(f"j:{job.queue}")
        return job

    def retry_failed(self, job_type: str | None = None, queue: str | None = None) -> int:
        count = self.store.job_retry_failed(JobRetryFailed(self.clock.now(), job_type, queue))
        if count:
            self.store.wakeup.notify("j:*")
        return count

    def delete(self, job_id: str) -> None:
        if not self.store.job_delete(JobDelete(str(job_id))):
            job = self.get(job_id)  # raises JobNotFound
            raise InvalidTransition(f"job {job.job_id} is {job.status.value}; cancel it before deleting it")

    def purge(self, older_than: timedelta | float = timedelta(days=7)) -> int:
        """Delete finished jobs (and their logs) that finished more than `older_than` ago."""
        seconds = _seconds(older_than, "older_than")
        assert seconds is not None
        if seconds < 0:
            raise InvalidJobOptions("older_than must not be negative", field="older_than")
        return self.store.job_purge(JobPurge(finished_before=self.clock.now() - seconds))

    # -- workers -------------------------------------------------------------------------------

    def run_worker(self, **overrides: Any) -> None:
        """Run a worker in this process until SIGTERM/SIGINT."""
        from .worker import run_worker

        run_worker(self, self.settings.merged(**overrides) if overrides else self.settings)

    # -- async twins ---------------------------------------------------------------------------

    batch_async = _async_twin(batch)
    enqueue_workflow_async = _async_twin(enqueue_workflow)
    get_async = _async_twin(get)
    wait_async = _async_twin(wait)
    list_async = _async_twin(list)
    logs_async = _async_twin(logs)
    stats_async = _async_twin(stats)
    webhook_deliveries_async = _async_twin(webhook_deliveries)
    cancel_async = _async_twin(cancel)
    retry_async = _async_twin(retry)
    retry_failed_async = _async_twin(retry_failed)
    delete_async = _async_twin(delete)
    purge_async = _async_twin(purge)
