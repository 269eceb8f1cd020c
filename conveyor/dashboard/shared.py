"""One overview read shared by every open dashboard, whose live fragments poll every few seconds.

Reading the overview counts every job in the store (stats), which grows with the table: five
operators polling a table of millions would keep a database core busy. Polls that arrive while a
read is running wait for it, and its answer serves further polls for a while that grows with what
the read cost (five times its duration, at least `floor` seconds): the database spends at most a
fifth of one connection on the dashboard whatever its size. The jobs page takes its filter
suggestions from it too; the overview page itself, and the page an action leads back to, read afresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

COST_FACTOR = 5.0


class SharedRead(Generic[T]):
    def __init__(self, floor: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._floor = floor
        self._clock = clock
        self._value: T | None = None
        self._fresh_until = 0.0
        self._running: asyncio.Future[T] | None = None

    async def get(self, read: Callable[[], Awaitable[T]]) -> T:
        if self._value is not None and self._clock() < self._fresh_until:
            return self._value
        if self._running is None:
            self._running = asyncio.ensure_future(self._read(read))
        # shield: one poller that goes away (its client closed) must not cancel the others' read
        return await asyncio.shield(self._running)

    async def _read(self, read: Callable[[], Awaitable[T]]) -> T:
        started = self._clock()
        try:
            value = await read()
        finally:
            self._running = None
        self._value = value
        self._fresh_until = self._clock() + max(self._floor, COST_FACTOR * (self._clock() - started))
        return value
