"""The idle fetcher's work on the wake-up listener's own thread: its claim the moment a wake-up
arrives, and (PostgreSQL) the ticket through which an enqueue hands a new job straight over.

An idle worker used to pass a wake-up along three threads before its claim reached the store
(listener thread → event loop → store thread); on a quiet machine every hop costs a scheduler
wake-up. Instead the fetcher arms an `EagerClaim` before it sleeps: the listener thread claims
at once and hands the claimed jobs to the event loop in one hop.

The hand-off goes one step further (store/postgres/handoff.py): while armed, the worker also
keeps a ticket in the store, written from the listener's own session, which holds the ticket's
lock. An enqueue that takes the ticket writes its job already claimed by this worker, and its
wake-up carries the job: the listener thread passes it to the event loop to start. No claim.

Capacity stays exact: the fetcher is the only one that starts jobs, and it sleeps while armed,
so free slots only grow meanwhile; it disarms before claiming itself, waiting for an eager claim
or a hand-off already under way instead of claiming alongside it. A ticket stands for one free
slot: a hand-off uses up the arm as an eager claim does, and the ticket is withdrawn before
anyone claims by themselves. A ticket found taken when withdrawn means its job is on the way:
until it arrives it counts against capacity (`reserved`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..store.port import ListenerHook

log = logging.getLogger("conveyor.worker")

T = TypeVar("T")
J = TypeVar("J")
J_co = TypeVar("J_co", covariant=True)
WITHDRAW_TIMEOUT = 10.0  # the listener thread answers in a round trip; this only guards a wedged one


@runtime_checkable
class Intercepting(Protocol):
    """A listener whose thread can act on wake-ups before handing them over (PgListener)."""

    def intercept(self, hook: ListenerHook | None) -> None: ...
    def poke(self) -> None: ...


class Ticket(Protocol[J_co]):
    """This worker's hand-off ticket in the store; every call runs on the listener thread."""

    def lock(self) -> bool:
        """A new session: drop any old ticket and take a fresh lock; False: no tickets then."""
        ...

    def park(self) -> None: ...

    def unpark(self) -> bool:
        """Withdraw; False if it was taken meanwhile (its job is on the way)."""
        ...

    def handed(self, message: str) -> J_co | None:
        """The job a hand-off wake-up gives this worker (None: not one for it)."""
        ...


class EagerClaim(Generic[T, J]):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        wants: Callable[[str], bool],
        deliver: Callable[[T | None, BaseException | None], None],
        ticket: Ticket[J] | None = None,
        poke: Callable[[], None] = lambda: None,
        deliver_handed: Callable[[J], None] = lambda job: None,
        release_stale: Callable[[J], None] = lambda job: None,
    ) -> None:
        self._loop = loop
        self._wants = wants  # called on the listener thread: must only read immutable state
        self._deliver = deliver  # called on the event loop with the claim's result (or error)
        self._ticket = ticket
        self._poke = poke  # have the listener thread call on_poke soon
        self._deliver_handed = deliver_handed  # called on the event loop with a handed-over job
        # Called on the event loop with a job handed over through a ticket of a session gone by.
        self._release_stale = release_stale
        self._lock = threading.Lock()
        # Armed: what to run on the next wake-up; its argument is how many slots a hand-off took
        # since the arm (a ticket found taken when withdrawn), which the claim must leave free.
        self._claim: Callable[[int], T] | None = None
        self._done: asyncio.Future[None] | None = None  # resolved on the loop once delivered
        self._taken: asyncio.Future[None] | None = None  # the armed claim's `_done`, once it ran
        # The ticket, as the listener thread knows it (guarded by _lock):
        self._want_ticket = False  # armed, and the store can hand over: keep a ticket
        self._locked = False  # this session holds the ticket lock
        self._parked = False  # a ticket of ours is in the store
        self._parking = False  # ...or about to be (the statement is running)
        self._in_transit = 0  # tickets taken whose job has not arrived yet
        self._arrived = 0  # handed-over jobs on their way to the event loop
        self._withdrawn: asyncio.Future[None] | None = None  # the loop waits for the withdrawal
        self.taken_when_withdrawn = 0  # tickets found taken as they were withdrawn, so far

    # -- the event loop's side -------------------------------------------------------------------

    def arm(self, claim: Callable[[int], T], park: bool = False) -> None:
        done = self._loop.create_future()
        with self._lock:
            self._claim, self._done, self._taken = claim, done, None
            self._want_ticket = park and self._ticket is not None
            poke = self._want_ticket and not self._parked
        if poke:
            self._poke()

    async def disarm(self) -> None:
        """Stop, and return once nothing started while armed is still under way: the ticket is
        withdrawn, and an armed claim (or hand-off) that ran is delivered."""
        with self._lock:
            taken = self._taken
            self._claim, self._done, self._taken = None, None, None
            self._want_ticket = False
            withdrawn = None
            if self._parked or self._parking:
                withdrawn = self._withdrawn = self._withdrawn or self._loop.create_future()
        if withdrawn is not None:
            self._poke()
            try:
                await asyncio.wait_for(asyncio.shield(withdrawn), WITHDRAW_TIMEOUT)
            except TimeoutError:
                log.warning("the wake-up listener did not withdraw the hand-off ticket in %.0fs", WITHDRAW_TIMEOUT)
        if taken is not None and not taken.done():
            await taken

    def reserved(self) -> int:
        """Slots that handed-over jobs on their way here will take (count them as busy)."""
        with self._lock:
            return self._in_transit + self._arrived

    # -- the listener thread's side (a `ListenerHook`) -------------------------------------------

    def on_connect(self) -> None:
        locked = False
        if self._ticket is not None:
            try:
                locked = self._ticket.lock()
            except Exception:
                log.warning("could not take the hand-off lock; no hand-offs this session", exc_info=True)
        with self._lock:
            self._locked = locked
        self._sync(connected=True)

    def on_disconnect(self) -> None:
        with self._lock:
            # The ticket dies with the session's lock. Jobs handed over just before are lost to
            # us: their leases run out and the rescuer requeues them.
            self._locked = self._parked = self._parking = False
            self._in_transit = 0
            withdrawn, self._withdrawn = self._withdrawn, None
        self._resolve(withdrawn)

    def on_poke(self, connected: bool) -> None:
        self._sync(connected)

    def on_messages(self, messages: list[str]) -> list[str]:
        rest = []
        for message in messages:
            if message.startswith("r:"):  # a hand-off: ours, or another worker's (nothing to do)
                job = self._ticket.handed(message) if self._ticket is not None else None
                if job is not None:
                    self._handed(job)
            else:
                rest.append(message)
        return self._claim_for(rest)

    def _claim_for(self, messages: list[str]) -> list[str]:
        wanted = {m for m in messages if self._wants(m)}
        if not wanted:
            return messages
        with self._lock:
            claim, done = self._claim, self._done
            if claim is None or done is None:
                return messages
            self._claim, self._taken = None, done
            self._want_ticket = False  # the arm is used up; the fetcher arms again
            withdraw = self._parked
        reserved = 0 if not withdraw or self._withdraw() else 1
        result: T | None = None
        error: BaseException | None = None
        try:
            result = claim(reserved)
        except Exception as exc:  # the fetcher logs it and claims by itself
            error = exc
        if not self._call_soon(self._delivered, done, result, error):
            return messages
        # The claim ran after these wake-ups arrived, so it saw their jobs: the fetcher needn't look again.
        return messages if error is not None else [m for m in messages if m not in wanted]

    def _handed(self, job: J) -> None:
        stale = False
        with self._lock:
            done = None
            if self._in_transit > 0:  # handed over from a ticket withdrawn since: it committed first
                self._in_transit -= 1
            elif self._parked:
                self._parked = False
                if self._claim is not None and self._done is not None:  # uses up the arm
                    done = self._done
                    self._claim, self._taken = None, done
            else:
                # From a ticket of a session gone by: an enqueue took it just before the old
                # connection dropped, and committed once this one listened. No slot was kept for
                # it (the fetcher may be filling every one), so it goes back to pending.
                stale = True
            if not stale:
                self._arrived += 1
        if stale:
            self._call_soon(self._release_stale, job)
        else:
            self._call_soon(self._started, job, done)

    def _call_soon(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run `fn(*args)` on the event loop; False if the loop is closed (the worker is gone:
        its leases will expire)."""
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            return False
        return True

    def _sync(self, connected: bool) -> None:
        """Make the store hold a ticket exactly while one is wanted (armed, in a locked session)."""
        while True:
            with self._lock:
                action = None
                if connected and self._locked:
                    if self._want_ticket and not self._parked:
                        action, self._parking = "park", True
                    elif not self._want_ticket and self._parked:
                        action = "withdraw"
                if action is None:
                    withdrawn, self._withdrawn = self._withdrawn, None
            if action is None:
                self._resolve(withdrawn)
                return
            if action == "withdraw":
                self._withdraw()
            elif not self._park():
                with self._lock:
                    self._want_ticket = False  # not this arm: claims by wake-up still work

    def _park(self) -> bool:
        assert self._ticket is not None
        parked = False
        try:
            self._ticket.park()
            parked = True
        except Exception:
            log.warning("could not leave a hand-off ticket", exc_info=True)
        with self._lock:
            self._parking = False
            self._parked = parked
        return parked

    def _withdraw(self) -> bool:
        """Withdraw the ticket; False if it was taken (its job is then in transit)."""
        assert self._ticket is not None
        try:
            untouched = self._ticket.unpark()
        except Exception:  # the session is failing; its lock, and so the ticket, go with it
            log.warning("could not withdraw the hand-off ticket", exc_info=True)
            untouched = True
        with self._lock:
            self._parked = False
            if not untouched:
                self._in_transit += 1
                self.taken_when_withdrawn += 1
        return untouched

    def _resolve(self, future: asyncio.Future[None] | None) -> None:
        if future is not None:
            self._call_soon(_set_done, future)

    # -- back on the event loop ------------------------------------------------------------------

    def _delivered(self, done: asyncio.Future[None], result: T | None, error: BaseException | None) -> None:
        try:
            self._deliver(result, error)
        finally:
            _set_done(done)

    def _started(self, job: J, done: asyncio.Future[None] | None) -> None:
        with self._lock:
            self._arrived -= 1
        try:
            self._deliver_handed(job)
        finally:
            if done is not None:
                _set_done(done)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
