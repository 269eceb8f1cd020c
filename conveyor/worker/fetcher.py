"""Claims due jobs in batches up to free capacity; sleeps until pushed a wake-up (or a due time).

While it sleeps, the wake-up listener may claim for it (eager.py) where the store's listener
allows that: the claimed jobs start as soon as they reach the event loop."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
from collections.abc import Callable

from ..clock import Clock
from ..errors import StoreBusy
from ..job import ClaimedJob, WorkerId
from ..store import Store
from ..store.params import ClaimResult, JobClaim
from .dbthread import DbThread
from .eager import EagerClaim

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
        inline_when_idle: bool = False,
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
        self._inline_when_idle = inline_when_idle
        self._wake = asyncio.Event()
        self._capacity = asyncio.Event()
        self._next_due = 0.0  # earliest scheduled run_at we know of; 0 forces a look
        self._hint = math.inf  # scheduled work announced while a claim was in flight
        self._announced = False  # a wake-up since the last claim: look (again)
        self._eager: EagerClaim[ClaimResult] | None = None
        self._eager_limit = 0
        self.eager_claimed = 0  # eager claims delivered so far
        self._eager_full = False  # the last one filled its limit: there may be more
        self.stopping = False
        self.limited = False  # fleet-wide limits exist: finished jobs may unblock other workers

    # -- signals from elsewhere ----------------------------------------------------------------

    def wants(self, message: str) -> bool:
        """Whether a wake-up message announces jobs this worker serves (any thread)."""
        kind, _, arg = message.partition(":")
        return kind == "j" and (arg == "*" or self._queues is None or arg in self._queues)

    def make_eager(self) -> EagerClaim[ClaimResult]:
        """Let the listener thread claim while this fetcher sleeps: its `on_messages` is the hook."""
        self._eager = EagerClaim(asyncio.get_running_loop(), self.wants, self._claimed)
        return self._eager

    def on_message(self, message: str) -> None:
        kind, _, arg = message.partition(":")
        if kind == "j":
            if self.wants(message):
                self._announced = True
                self._wake.set()
        elif kind == "s":
            try:
                due = float(arg)
            except ValueError:
                due = 0.0
            self._next_due = min(self._next_due, due)
            self._hint = min(self._hint, due)  # survives a claim that was already under way
            self._announced = True
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
        self._announced = False
        params = JobClaim(self._worker_id, self._queues, limit, now, self._lease, promote_due=promote)
        idle = self._in_flight() == 0 and self._db.idle  # else our own writes would contend for the lock
        result = self._claim_inline(params) if self._inline_when_idle and idle else None
        if result is None:
            result = await self._db.call(self._store.job_claim, params)
        if promote:
            seen = result.next_scheduled_at if result.next_scheduled_at is not None else math.inf
            self._next_due = min(seen, self._hint)
        self._learn(result)
        return result.jobs

    def _claim_inline(self, params: JobClaim) -> ClaimResult | None:
        """An idle worker's claim on the event loop itself (a local store: SQLite), sparing the
        store thread's wake-up and the loop's own on the way back, ≈ 0.1-0.3 ms each on a quiet
        machine. Only when no job runs and the store thread has nothing to write (a draining
        worker's finishes would otherwise fight it for the lock), and it never waits: None if
        another writer holds the lock."""
        try:
            return self._store.job_claim(dataclasses.replace(params, wait=False))
        except StoreBusy:
            return None

    def _learn(self, result: ClaimResult) -> None:
        self.limited = result.limited
        if result.next_check_at is not None:  # a rate limit refills then: look again
            self._next_due = min(self._next_due, result.next_check_at)

    def _eager_claim(self, limit: int) -> ClaimResult:
        """The claim an armed EagerClaim runs (on the listener thread): no promotion of due jobs,
        which the fetcher's own timed claims do."""
        params = JobClaim(self._worker_id, self._queues, limit, self._clock.now(), self._lease, promote_due=False)
        return self._store.job_claim(params)

    def _claimed(self, result: ClaimResult | None, error: BaseException | None) -> None:
        """An eager claim's outcome, on the event loop: start its jobs right here."""
        if error is not None or result is None:
            log.warning("claiming on a wake-up failed (%s); claiming again", error)
            self._announced = True
        else:
            self._learn(result)
            self.eager_claimed += 1
            self._eager_full = len(result.jobs) >= self._eager_limit
            for job in result.jobs:  # even if told to stop meanwhile: shutdown finishes or releases them
                self._start(job)
        self._wake.set()

    async def _sleep(self, event: asyncio.Event, until_due: bool = True) -> None:
        timeout = self._poll
        if until_due:
            timeout = min(timeout, max(0.0, self._next_due - self._clock.now()))
            if timeout <= 0:
                return
        try:
            # asyncio.timeout, not wait_for: wait_for runs the wait as a task of its own, two
            # extra loop turns between a wake-up and this task resuming (~50 µs on an idle CPU).
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            if timeout >= self._poll:  # a quiet poll interval: look for due work even if unannounced
                self._next_due = min(self._next_due, self._clock.now())

    async def _idle(self) -> bool:
        """Sleep until a wake-up, a due time or a poll, armed so that the listener may claim
        meanwhile. True: look for jobs now; False: an eager claim took what was announced."""
        if self._announced or self.stopping:
            return True
        self._wake.clear()
        eager = self._eager
        if eager is None:
            await self._sleep(self._wake)
            return True
        limit = min(self._concurrency - self._in_flight(), self._batch)  # free now: after the last claim
        if limit <= 0:
            return True  # full: the loop waits for a free slot
        runs = self.eager_claimed
        self._eager_limit = limit
        eager.arm(functools.partial(self._eager_claim, limit))
        try:
            await self._sleep(self._wake)
        finally:
            busy = eager.disarm()
            if busy is not None:  # claimed but not delivered yet: its jobs start before we claim more
                await busy
        return self.eager_claimed == runs or self._eager_full or self._announced

    async def run(self) -> None:
        look = True
        while not self.stopping:
            free = self._concurrency - self._in_flight()
            if free <= 0:
                self._capacity.clear()
                if self._concurrency - self._in_flight() <= 0:
                    await self._sleep(self._capacity, until_due=False)
                continue
            limit = min(free, self._batch)
            if look:
                try:
                    jobs = await self._claim(limit)
                except Exception:
                    log.exception("claiming jobs failed; retrying")
                    await asyncio.sleep(min(self._poll, 1.0))
                    continue
                for job in jobs:  # even if told to stop meanwhile: shutdown finishes or releases them
                    self._start(job)
                if len(jobs) >= limit:
                    continue
            look = await self._idle()
