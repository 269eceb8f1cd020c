"""Claims due jobs in batches up to free capacity; sleeps until pushed a wake-up (or a due time)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from ..clock import Clock
from ..job import ClaimedJob, WorkerId
from ..store import Store
from ..store.params import JobClaim
from .dbthread import DbThread

log = logging.getLogger("conveyor.worker")


class Fetcher:
    def __init__(
        self,
        store: Store,
        db: DbThread,
        clock: Clock,
        worker_id: WorkerId,
        queues: tuple[str, ...] | None,
        concurrency: int,
        batch: int,
        lease_seconds: float,
        poll_interval: float,
        in_flight: Callable[[], int],
        start: Callable[[ClaimedJob], None],
    ) -> None:
        self._store = store
        self._db = db
        self._clock = clock
        self._worker_id = worker_id
        self._queues = queues
        self._concurrency = concurrency
        self._batch = batch
        self._lease = lease_seconds
        self._poll = poll_interval
        self._in_flight = in_flight
        self._start = start
        self._wake = asyncio.Event()
        self._capacity = asyncio.Event()
        self._next_due = 0.0  # earliest scheduled run_at we know of; 0 forces a look
        self._hint = math.inf  # scheduled work announced while a claim was in flight
        self.stopping = False
        self.limited = False  # fleet-wide limits exist: finished jobs may unblock other workers

    # -- signals from elsewhere ----------------------------------------------------------------

    def on_message(self, message: str) -> None:
        kind, _, arg = message.partition(":")
        if kind == "j":
            if arg == "*" or self._queues is None or arg in self._queues:
                self._wake.set()
        elif kind == "s":
            try:
                due = float(arg)
            except ValueError:
                due = 0.0
            self._next_due = min(self._next_due, due)
            self._hint = min(self._hint, due)  # survives a claim that was already under way
            self._wake.set()

    def slot_freed(self) -> None:
        self._capacity.set()

    def stop(self) -> None:
        self.stopping = True
        self._wake.set()
        self._capacity.set()

    # -- the loop ------------------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        now = self._clock.now()
        promote = now >= self._next_due
        self._hint = math.inf
        params = JobClaim(self._worker_id, self._queues, limit, now, self._lease, promote_due=promote)
        result = await self._db.call(self._store.job_claim, params)
        if promote:
            seen = result.next_scheduled_at if result.next_scheduled_at is not None else math.inf
            self._next_due = min(seen, self._hint)
        self.limited = result.limited
        if result.next_check_at is not None:  # a rate limit refills then: look again
            self._next_due = min(self._next_due, result.next_check_at)
        return result.jobs

    async def _sleep(self, event: asyncio.Event, until_due: bool = True) -> None:
        timeout = self._poll
        if until_due:
            timeout = min(timeout, max(0.0, self._next_due - self._clock.now()))
            if timeout <= 0:
                return
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            if timeout >= self._poll:  # a quiet poll interval: look for due work even if unannounced
                self._next_due = min(self._next_due, self._clock.now())

    async def run(self) -> None:
        while not self.stopping:
            free = self._concurrency - self._in_flight()
            if free <= 0:
                self._capacity.clear()
                if self._concurrency - self._in_flight() <= 0:
                    await self._sleep(self._capacity, until_due=False)
                continue
            limit = min(free, self._batch)
            self._wake.clear()
            try:
                jobs = await self._claim(limit)
            except Exception:
                log.exception("claiming jobs failed; retrying")
                await asyncio.sleep(min(self._poll, 1.0))
                continue
            for job in jobs:  # even if told to stop meanwhile: shutdown finishes or releases them
                self._start(job)
            if len(jobs) < limit:
                await self._sleep(self._wake)
