"""Claims due jobs in batches up to free capacity; sleeps until pushed a wake-up (or a due time).

While it sleeps, the wake-up listener may claim for it (eager.py) where the store's listener
allows that: the claimed jobs start as soon as they reach the event loop. Where the store can
hand a new job straight to an idle worker (PostgreSQL), it also leaves a ticket meanwhile, and
a job handed over starts from its wake-up alone."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
import os
from collections.abc import Callable

from ..clock import Clock
from ..errors import StoreBusy
from ..job import ClaimedJob, WorkerId
from ..store import Store
from ..store.params import ClaimResult, JobClaim, WorkerLock, WorkerPark
from ..store.port import HandOff
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
        release: Callable[[ClaimedJob], None],
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
        self._release = release  # put a job claimed in our name back to pending (see _stale)
        self._inline_when_idle = inline_when_idle
        self._wake = asyncio.Event()
        self._capacity = asyncio.Event()
        self._next_due = 0.0  # earliest scheduled run_at we know of; 0 forces a look
        self._hint = math.inf  # scheduled work announced while a claim was in flight
        self._announced = False  # a wake-up since the last claim: look (again)
        self._eager: EagerClaim[ClaimResult, ClaimedJob] | None = None
        self._eager_cap = 0  # what the last eager claim could take
        self.eager_claimed = 0  # eager claims delivered so far
        self.handed = 0  # jobs handed straight over (a ticket taken) so far
        self._eager_full = False  # the last one filled its limit: there may be more
        self.stopping = False
        self.limited = False  # fleet-wide limits exist: finished jobs may unblock other workers

    # -- signals from elsewhere ----------------------------------------------------------------

    def wants(self, message: str) -> bool:
        """Whether a wake-up message announces jobs this worker serves (any thread)."""
        kind, _, arg = message.partition(":")
        return kind == "j" and (arg == "*" or self._queues is None or arg in self._queues)

    def make_eager(self, poke: Callable[[], None] = lambda: None) -> EagerClaim[ClaimResult, ClaimedJob]:
        """Let the listener thread claim while this fetcher sleeps (the result is its hook), and
        keep a hand-off ticket meanwhile where the store hands jobs over (`poke`: the listener's)."""
        ticket = StoreTicket(self._store, self._clock, self._worker_id, self._queues, self._lease) \
            if isinstance(self._store, HandOff) else None
        self._eager = EagerClaim(asyncio.get_running_loop(), self.wants, self._claimed, ticket, poke, self._handed,
                                 self._stale)
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
        idle = self.busy() == 0 and self._db.idle  # else our own writes would contend for the lock
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

    def _eager_claim(self, limit: int, reserved: int) -> ClaimResult:
        """The claim an armed EagerClaim runs (on the listener thread), leaving free the slots
        that a hand-off took since it was armed: no promotion of due jobs, which the fetcher's
        own timed claims do."""
        self._eager_cap = limit - reserved  # read on the loop once the result is delivered
        if self._eager_cap <= 0:
            return ClaimResult(jobs=[], next_scheduled_at=None)
        params = JobClaim(self._worker_id, self._queues, self._eager_cap, self._clock.now(), self._lease,
                          promote_due=False)
        return self._store.job_claim(params)

    def _claimed(self, result: ClaimResult | None, error: BaseException | None) -> None:
        """An eager claim's outcome, on the event loop: start its jobs right here."""
        if error is not None or result is None:
            log.warning("claiming on a wake-up failed (%s); claiming again", error)
            self._announced = True
        else:
            self._learn(result)
            self.eager_claimed += 1
            self._eager_full = len(result.jobs) >= self._eager_cap
            for job in result.jobs:  # even if told to stop meanwhile: shutdown finishes or releases them
                self._start(job)
        self._wake.set()

    def _handed(self, job: ClaimedJob) -> None:
        """A job handed over through our ticket, on the event loop: it is ours already, start it
        (even if told to stop meanwhile: shutdown finishes or releases it)."""
        self.handed += 1
        self._start(job)
        self._wake.set()

    def _stale(self, job: ClaimedJob) -> None:
        """A job handed over through a ticket of our previous LISTEN session, on the event loop:
        it has no slot, so it goes back to pending for the next claim (ours or another's)."""
        log.info("job %s was handed over through a lost session's ticket; putting it back", job.job_id)
        self._release(job)

    def busy(self) -> int:
        """Slots taken: jobs in flight, and jobs handed over to us that are still on the way."""
        return self._in_flight() + (self._eager.reserved() if self._eager is not None else 0)

    async def settle(self, timeout: float) -> None:
        """After `stop()`: wait (up to `timeout`) for handed-over jobs still on the way, so that
        shutdown finishes or releases them like the rest."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._eager is not None and self._eager.reserved() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

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
        limit = min(self._concurrency - self.busy(), self._batch)  # free now: after the last claim
        if limit <= 0:
            return True  # full: the loop waits for a free slot
        runs, handed = self.eager_claimed, self.handed
        eager.arm(functools.partial(self._eager_claim, limit), park=True)
        try:
            await self._sleep(self._wake)
        finally:
            # Withdraws the ticket, and waits for a claim or hand-off under way: its jobs start
            # before we claim more.
            await eager.disarm()
        if self.handed != handed and self.eager_claimed == runs and not self._announced:
            return False  # a job handed over: nothing announced to look for, arm again
        return self.eager_claimed == runs or self._eager_full or self._announced

    async def run(self) -> None:
        look = True
        while not self.stopping:
            free = self._concurrency - self.busy()
            if free <= 0:
                self._capacity.clear()
                if self._concurrency - self.busy() <= 0:
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


class StoreTicket:
    """This worker's hand-off ticket in a `HandOff` store (eager.py's `Ticket`). Its calls run on
    the listener thread, where the store's statements go to the LISTEN session; each session
    takes a lock of its own, so a ticket left by an earlier session is never mistaken for live."""

    def __init__(
        self, store: HandOff, clock: Clock, worker_id: WorkerId, queues: tuple[str, ...] | None, lease: float
    ) -> None:
        self._store = store
        self._clock = clock
        self._worker_id = worker_id
        self._queues = queues
        self._lease = lease
        self._key = 0

    def lock(self) -> bool:
        self._key = int.from_bytes(os.urandom(8), "big", signed=True)
        return self._store.worker_lock(WorkerLock(self._worker_id, self._key))

    def park(self) -> None:
        self._store.worker_park(WorkerPark(self._worker_id, self._key, self._queues, self._lease, self._clock.now()))

    def unpark(self) -> bool:
        return self._store.worker_unpark(WorkerLock(self._worker_id, self._key))

    def handed(self, message: str) -> ClaimedJob | None:
        return self._store.handed_job(message, self._worker_id)
