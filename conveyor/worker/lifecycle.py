"""The worker process: wires fetcher, executor, completer, leases and maintenance; handles signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

from ..context import JobContext
from ..job import ClaimedJob, JobId, LogEntry, WorkerId
from ..maintenance.cron import Scheduler
from ..maintenance.pruner import Pruner
from ..maintenance.rescuer import Rescuer
from ..outcome import Released
from ..store.params import JobCheckpoint, JobGet, JobProgress, LimitSet, LogInsert
from ..webhooks.dispatcher import WebhookDispatcher
from .completer import Completer
from .dbthread import DbThread
from .eager import Intercepting
from .executor import RunningJob, execute
from .fetcher import Fetcher
from .lease import LeaseKeeper
from .threads import SyncPool

if TYPE_CHECKING:
    from ..app import Conveyor
    from ..settings import Settings

log = logging.getLogger("conveyor.worker")


def new_worker_id() -> WorkerId:
    return WorkerId(f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}")


class Worker:
    """One worker process's runtime. `await worker.run()` until `stop()` or SIGTERM/SIGINT."""

    def __init__(self, app: Conveyor, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or app.settings
        self.store = app.store
        self.clock = app.clock
        self.worker_id = new_worker_id()
        self.running: dict[JobId, RunningJob] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self._hard_stop = False
        self.db = DbThread()
        self.pool = SyncPool()
        s = self.settings
        # PostgreSQL: outcomes on a thread of their own, so a claim never waits behind a batch's
        # durable commit (a WAL flush of ~100 jobs' changes, milliseconds here); claims and
        # finishes then overlap on two pooled connections. SQLite has one writer: one thread.
        self._local_store = self.store.dialect == "sqlite"
        self.finish_db = self.db if self._local_store else DbThread("conveyor-finish")
        self.completer = Completer(self.store, self.finish_db, self.clock, app.retry_policy)
        # A slot is free once its job's outcome is stored (Completer.unwritten), and a claim takes
        # every free slot up to claim_batch. Halving claims so that one batch runs while the last
        # one's outcomes commit kept a lone process busier, but each claim or outcome statement
        # costs PostgreSQL a fixed ≈ 0.3 ms of CPU besides its rows: at concurrency 100 that was
        # 46 instead of 36 µs of server CPU per job, on the one server every worker shares
        # (docs/benchmarks.md). Overlap comes from concurrency above claim_batch instead.
        self.fetcher = Fetcher(
            self.store, self.db, self.clock, self.worker_id, s.queues, s.concurrency,
            s.claim_batch, s.lease_seconds, s.poll_interval,
            in_flight=lambda: len(self.running) + self.completer.unwritten(), start=self._start,
            release=lambda job: self.completer.submit(job, Released()),
            inline_when_idle=self._local_store,  # a claim is a local file write there
        )
        self.leases = LeaseKeeper(
            self.store, self.db, self.clock, self.worker_id, s.lease_seconds,
            running_ids=lambda: [*self.running, *self.completer.unwritten_ids()], on_lost=self._lost,
            info={"queues": list(s.queues) if s.queues else None, "concurrency": s.concurrency},
            held_ids=lambda: [*self.running, *self.completer.unsent_ids()],
        )
        self.completer.wake_all_on_finish = lambda: self.fetcher.limited
        self.completer.on_written = self.fetcher.slot_freed
        self.rescuer = Rescuer(self.store, self.db, self.clock, s.lease_seconds)
        self.pruner = Pruner(self.store, self.db, self.clock, s.retention_seconds)
        self.scheduler = Scheduler(app, self.store, self.db, self.clock)
        # Its own store thread: webhook claims and outcomes never queue behind or ahead of job writes.
        self.webhooks = WebhookDispatcher(self.store, DbThread("conveyor-webhooks"), self.clock, s, self.worker_id)
        self.started = asyncio.Event()

    # -- the context backend (fenced writes for a running attempt) -----------------------------

    async def save_progress(self, job: ClaimedJob, progress: dict[str, Any]) -> None:
        params = JobProgress(job.job_id, job.attempt, job.worker_id, progress, now=self.clock.now())
        await self.db.call(self.store.job_progress, params)

    async def save_log(self, job: ClaimedJob, level: str, message: str) -> None:
        getattr(logging.getLogger("conveyor.job"), level)("[%s] %s", job.job_id, message)
        entry = LogEntry(self.clock.now(), level, message)
        await self.db.call(self.store.log_insert, LogInsert(job.job_id, (entry,)))

    async def save_checkpoint(self, job: ClaimedJob, data: Any) -> None:
        await self.db.call(self.store.job_checkpoint, JobCheckpoint(job.job_id, job.attempt, job.worker_id, data))

    # -- job lifecycle ---------------------------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        running = RunningJob(job=job, ctx=JobContext(job, self))
        self.running[job.job_id] = running
        task = asyncio.get_running_loop().create_task(self._run_job(running))
        running.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_job(self, running: RunningJob) -> None:
        try:
            if running.job.depends_on:
                params = JobGet(running.job.job_id)
                running.ctx.dependency_results = await self.db.call(self.store.job_dependency_results, params)
            outcome = await execute(self.app.handlers.get(running.job.job_type), running, self.pool)
        finally:
            self.running.pop(running.job.job_id, None)
            self.fetcher.slot_freed()
        self.completer.submit(running.job, outcome)
        if self._local_store and not self.running and self.db.idle:
            # Gone idle: write the outcome now, before the fetcher claims the next job (see write_now).
            self.completer.write_now()

    def _interrupt(self, job_id: JobId, reason: str) -> None:
        running = self.running.get(job_id)
        if running is None or running.stop_reason is not None:
            return
        running.stop_reason = reason
        running.ctx._mark_cancelled()
        if running.task is not None:
            running.task.cancel()

    def _lost(self, job_id: JobId) -> None:
        log.warning("job %s is no longer ours (cancelled, or lease lost); stopping it", job_id)
        self._interrupt(job_id, "cancelled")

    def _on_message(self, message: str) -> None:
        if message == "c:*":  # cancellations we can't name: ask the store what we still own
            task = asyncio.get_running_loop().create_task(self.leases.beat())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif message.startswith("c:"):
            self._interrupt(JobId(message[2:]), "cancelled")
        else:
            self.fetcher.on_message(message)

    # -- run / stop ------------------------------------------------------------------------------

    def stop(self, hard: bool = False) -> None:
        self._hard_stop = self._hard_stop or hard
        self.fetcher.stop()
        self._stop.set()

    async def run(self, install_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        listener = self.store.wakeup.listen()
        def on_readable() -> None:
            for message in listener.drain():
                self._on_message(message)

        loop.add_reader(listener.fileno(), on_readable)
        if isinstance(listener, Intercepting):  # claims (and hand-offs) right on the listener thread while idle
            listener.intercept(self.fetcher.make_eager(listener.poke))
        if install_signals:
            self._install_signals(loop)
        services = [
            loop.create_task(self.completer.run()),
            loop.create_task(self.leases.run()),
            loop.create_task(self.rescuer.run()),
            loop.create_task(self.pruner.run()),
            loop.create_task(self.scheduler.run()),
            loop.create_task(self.webhooks.run()),
        ]
        await self._declare_limits()
        fetcher = loop.create_task(self.fetcher.run())
        log.info("worker %s started (concurrency %d)", self.worker_id, self.settings.concurrency)
        self.started.set()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(fetcher, services, listener, loop)

    async def _declare_limits(self) -> None:
        """Limits declared on handlers (`concurrency_limit=`, `rate_limit=`) become fleet-wide rows."""
        for h in self.app.handlers.values():
            if h.concurrency_limit is not None or h.rate_limit is not None:
                params = LimitSet("job_type", h.job_type, self.clock.now(), h.concurrency_limit, h.rate_limit)
                await self.db.call(self.store.limit_set, params)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_signal(sig: int) -> None:
            hard = self._stop.is_set()  # a second signal: don't wait out the grace period
            what = "stopping now" if hard else "shutting down gracefully"
            log.info("received %s; %s", signal.Signals(sig).name, what)
            self.stop(hard=hard)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)

    async def _shutdown(
        self,
        fetcher: asyncio.Task[Any],
        services: list[asyncio.Task[Any]],
        listener: Any,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.fetcher.stop()
        with contextlib.suppress(Exception):
            await fetcher
        await self.fetcher.settle(timeout=2.0)  # a job handed over just before the ticket was withdrawn
        in_flight = [r.task for r in self.running.values() if r.task is not None]
        if in_flight and not self._hard_stop:
            log.info("waiting up to %.1fs for %d running job(s)", self.settings.shutdown_grace_seconds, len(in_flight))
            await self._wait_in_flight(in_flight)
        for job_id in list(self.running):
            self._interrupt(job_id, "shutdown")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await self.completer.flush()
        with contextlib.suppress(Exception):
            await self.leases.stopped()
        for task in services:
            task.cancel()
        await asyncio.gather(*services, return_exceptions=True)
        loop.remove_reader(listener.fileno())
        listener.close()
        self.pool.shutdown()
        self.db.shutdown()
        if self.finish_db is not self.db:
            self.finish_db.shutdown()
        log.info("worker %s stopped", self.worker_id)

    async def _wait_in_flight(self, tasks: list[asyncio.Task[Any]]) -> None:
        pending = set(tasks)
        deadline = loop_time() + self.settings.shutdown_grace_seconds
        while pending and not self._hard_stop:
            remaining = deadline - loop_time()
            if remaining <= 0:
                return
            _, pending = await asyncio.wait(pending, timeout=min(remaining, 0.2))


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def run_worker(app: Conveyor, settings: Settings | None = None) -> None:
    """Run one worker in this process until SIGTERM/SIGINT (blocking)."""

    async def main() -> None:
        await Worker(app, settings).run()

    asyncio.run(main())
