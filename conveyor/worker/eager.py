"""The idle fetcher's claim, run on the wake-up listener's own thread the moment a wake-up arrives.

An idle worker used to pass a wake-up along three threads before its claim reached the store
(listener thread → event loop → store thread); on a quiet machine every hop costs a scheduler
wake-up. Instead the fetcher arms an `EagerClaim` before it sleeps: the listener thread claims
at once and hands the claimed jobs to the event loop in one hop.

Capacity stays exact: the fetcher is the only one that starts jobs, and it sleeps while armed,
so free slots only grow meanwhile; and it disarms before claiming itself, waiting for an eager
claim already under way instead of claiming alongside it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")


@runtime_checkable
class Intercepting(Protocol):
    """A listener whose thread can act on wake-ups before handing them over (PgListener)."""

    def intercept(self, hook: Callable[[list[str]], list[str]] | None) -> None: ...


class EagerClaim(Generic[T]):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        wants: Callable[[str], bool],
        deliver: Callable[[T | None, BaseException | None], None],
    ) -> None:
        self._loop = loop
        self._wants = wants  # called on the listener thread: must only read immutable state
        self._deliver = deliver  # called on the event loop with the claim's result (or error)
        self._lock = threading.Lock()
        self._claim: Callable[[], T] | None = None  # armed: what to run on the next wake-up
        self._done: asyncio.Future[None] | None = None  # resolved on the loop once delivered
        self._taken: asyncio.Future[None] | None = None  # the armed claim's `_done`, once it ran

    # -- the event loop's side -------------------------------------------------------------------

    def arm(self, claim: Callable[[], T]) -> None:
        done = self._loop.create_future()
        with self._lock:
            self._claim, self._done, self._taken = claim, done, None

    def disarm(self) -> asyncio.Future[None] | None:
        """Stop; a future to await if the armed claim ran but its result is not delivered yet."""
        with self._lock:
            taken = self._taken
            self._claim, self._done, self._taken = None, None, None
        return taken if taken is not None and not taken.done() else None

    # -- the listener thread's side (a `Listener.intercept` hook) --------------------------------

    def on_messages(self, messages: list[str]) -> list[str]:
        wanted = {m for m in messages if self._wants(m)}
        if not wanted:
            return messages
        with self._lock:
            claim, done = self._claim, self._done
            if claim is None or done is None:
                return messages
            self._claim, self._taken = None, done
        result: T | None = None
        error: BaseException | None = None
        try:
            result = claim()
        except Exception as exc:  # the fetcher logs it and claims by itself
            error = exc
        try:
            self._loop.call_soon_threadsafe(self._delivered, done, result, error)
        except RuntimeError:  # the loop is closed: the worker is gone, its lease will expire
            return messages
        # The claim ran after these wake-ups arrived, so it saw their jobs: the fetcher needn't look again.
        return messages if error is not None else [m for m in messages if m not in wanted]

    def _delivered(self, done: asyncio.Future[None], result: T | None, error: BaseException | None) -> None:
        try:
            self._deliver(result, error)
        finally:
            if not done.done():
                done.set_result(None)
