"""Writes outcomes in batches: while one batch commits, the next accumulates (group commit)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..clock import Clock
from ..errors import StoreBusy
from ..job import ClaimedJob, JobId
from ..outcome import Outcome, Transition, transition
from ..retry import RetryPolicy
from ..status import JobStatus
from ..store import Store
from ..store.params import JobFinish
from .dbthread import DbThread

log = logging.getLogger("conveyor.worker")


class Completer:
    def __init__(self, store: Store, db: DbThread, clock: Clock, policy: RetryPolicy) -> None:
        self._store = store
        self._db = db
        self._clock = clock
        self._policy = policy
        self._pending: list[Transition] = []
        self._in_flight: list[Transition] = []  # the batch being written now
        self._ready = asyncio.Event()
        self._writing = asyncio.Lock()
        self.applied = 0
        self.rejected = 0
        self.wake_all_on_finish: Callable[[], bool] = lambda: False
        self.on_written: Callable[[], None] = lambda: None  # a batch is stored: its slots are free

    def submit(self, job: ClaimedJob, outcome: Outcome) -> None:
        t = transition(job, outcome, self._policy, self._clock.now())
        if t is not None:
            self._pending.append(t)
            self._ready.set()

    def write_now(self) -> bool:
        """Write what is pending right here, on the event loop, if no batch is being written and
        the store lock is free at once (SQLite; StoreBusy otherwise): for a worker that has just
        gone idle. Its store thread would otherwise write them while the next job runs, and a
        sync handler's thread then shares the GIL with that thread and the loop's hand-backs,
        each waiting out the interpreter's switch interval (5 ms) to get it. False: left to `run`."""
        if self._writing.locked() or not self._pending:
            return False
        batch = self._pending
        try:
            applied = set(self._store.job_finish(JobFinish(tuple(batch), self._clock.now(), wait=False)))
        except StoreBusy:
            return False
        except Exception:
            log.debug("writing outcomes on the event loop failed; the store thread retries", exc_info=True)
            return False
        self._pending = []  # nothing was submitted meanwhile: submit runs on this thread too
        self._after_write(batch, applied)
        return True

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            async with self._writing:
                await self._write_pending()

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            self._in_flight = batch
            try:
                applied = set(await self._db.call(self._store.job_finish, JobFinish(tuple(batch), self._clock.now())))
            except Exception:
                log.exception("writing %d job outcomes failed; retrying", len(batch))
                self._pending[:0] = batch
                self._in_flight = []
                await asyncio.sleep(0.5)
                continue
            self._in_flight = []
            self._after_write(batch, applied)

    def _after_write(self, batch: list[Transition], applied: set[JobId]) -> None:
        self.applied += len(applied)
        wake_queues: set[str] = set()
        earliest: float | None = None
        for t in batch:
            if t.job.job_id not in applied:
                self.rejected += 1
                log.warning(
                    "outcome of job %s attempt %d rejected: this worker no longer holds its lease",
                    t.job.job_id, t.job.attempt,
                )
            elif t.status is JobStatus.PENDING:
                wake_queues.add(t.job.queue)
            elif t.status is JobStatus.SCHEDULED and t.run_at is not None:
                earliest = t.run_at if earliest is None else min(earliest, t.run_at)
        if self.wake_all_on_finish():  # a finished job frees a fleet-wide limit slot
            wake_queues = {"*"}
        for queue in wake_queues:
            self._store.wakeup.notify(f"j:{queue}")
        if earliest is not None:
            self._store.wakeup.notify(f"s:{earliest}")
        self.on_written()

    def unwritten(self) -> int:
        """How many outcomes are not stored yet. The worker counts them against its concurrency:
        a job whose outcome a SIGKILL could still lose runs again, so a slot is only free once the
        outcome is stored, and a kill re-runs at most `concurrency` jobs."""
        return len(self._in_flight) + len(self._pending)

    def unsent_ids(self) -> list[JobId]:
        """Jobs whose outcome waits for the next write (not the one on its way)."""
        return [t.job.job_id for t in self._pending]

    def unwritten_ids(self) -> list[JobId]:
        """Jobs whose outcome is not stored yet: their leases must still be renewed, or a slow
        write (a database outage) would let another worker run them again."""
        return [t.job.job_id for t in (*self._in_flight, *self._pending)]

    async def flush(self) -> None:
        """Return once everything submitted so far is written."""
        async with self._writing:
            await self._write_pending()
