"""Sync handlers run on pooled threads so they never block the event loop; a timed-out or
cancelled one is interrupted with an asynchronous exception and its slot freed at once."""

from __future__ import annotations

import asyncio
import ctypes
import queue
import threading
from collections.abc import Callable
from typing import Any


class JobInterrupted(BaseException):
    """Raised inside a sync handler's thread when its job timed out or was cancelled.
    A BaseException, so a handler's `except Exception` does not swallow it."""


_Work = tuple[Callable[[], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class _PoolThread(threading.Thread):
    def __init__(self, pool: SyncPool) -> None:
        super().__init__(daemon=True, name="conveyor-sync-handler")
        self.pool = pool
        self.inbox: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self.busy_with: asyncio.Future[Any] | None = None

    def run(self) -> None:
        while True:
            work = self.inbox.get()
            if work is None:
                return
            try:
                self._run(*work)
            except JobInterrupted:
                pass  # an interrupt that arrived just after its job ended
            finally:
                self.pool.give_back(self)

    def _run(self, fn: Callable[[], Any], loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any]) -> None:
        self.busy_with = fut
        try:
            result = fn()
        except BaseException as exc:
            self.busy_with = None
            loop.call_soon_threadsafe(_settle, fut, None, exc)
        else:
            self.busy_with = None
            loop.call_soon_threadsafe(_settle, fut, result, None)


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return  # the job was abandoned (timeout/cancel); its late outcome is dropped
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


class SyncPool:
    """Threads that grow on demand and are reused; an abandoned thread returns when it can."""

    def __init__(self) -> None:
        self._idle: list[_PoolThread] = []
        self._lock = threading.Lock()
        self._all: list[_PoolThread] = []

    def give_back(self, thread: _PoolThread) -> None:
        with self._lock:
            self._idle.append(thread)

    def submit(self, fn: Callable[[], Any]) -> tuple[asyncio.Future[Any], _PoolThread]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            thread = self._idle.pop() if self._idle else None
        if thread is None:
            thread = _PoolThread(self)
            self._all.append(thread)
            thread.start()
        thread.busy_with = fut
        thread.inbox.put((fn, loop, fut))
        return fut, thread

    def interrupt(self, thread: _PoolThread, fut: asyncio.Future[Any]) -> None:
        """Raise JobInterrupted in `thread` if it is still running the work behind `fut`."""
        if thread.busy_with is fut and thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(JobInterrupted)
            )

    def shutdown(self) -> None:
        for thread in self._all:
            thread.inbox.put(None)
