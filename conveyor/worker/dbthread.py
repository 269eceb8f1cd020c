"""Runs blocking store calls off the event loop on one dedicated thread, in submission order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DbThread:
    def __init__(self, name: str = "conveyor-db") -> None:
        # One thread: SQLite has one writer anyway, and order (progress before result) is kept.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._calls = 0  # submitted and not yet returned (read and written on the event loop only)

    @property
    def idle(self) -> bool:
        """Nothing queued or running on the thread: a store call made elsewhere meanwhile cannot
        contend with one of ours for SQLite's write lock."""
        return self._calls == 0

    async def call(self, fn: Callable[[Any], T], arg: Any) -> T:
        self._calls += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, arg)
        finally:
            self._calls -= 1

    async def call0(self, fn: Callable[[], T]) -> T:
        self._calls += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self._calls -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
