"""What a running handler sees: `JobContext` (async) and `SyncJobContext` for sync handlers."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from .job import ClaimedJob

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ContextBackend(Protocol):
    """Implemented by the worker: durable, fenced writes for one running attempt."""

    async def save_progress(self, job: ClaimedJob, progress: dict[str, Any]) -> None: ...
    async def save_log(self, job: ClaimedJob, level: str, message: str) -> None: ...
    async def save_checkpoint(self, job: ClaimedJob, data: Any) -> None: ...


def _progress(percent: float | None, step: str | None, message: str | None) -> dict[str, Any]:
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise TypeError("progress percent must be a number")
        if not 0 <= percent <= 100:
            raise ValueError(f"progress percent must be within 0..100, got {percent}")
    return {"step": step, "percent": percent, "message": message}


def _level(level: str) -> str:
    normalized = str(level).lower()
    if normalized == "warn":
        normalized = "warning"
    if normalized not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return normalized


class JobContext:
    def __init__(
        self,
        job: ClaimedJob,
        backend: ContextBackend,
        dependency_results: dict[str, Any] | None = None,
    ) -> None:
        self.job = job
        self._backend = backend
        self._cancelled = False
        self.checkpoint_data: Any = job.checkpoint
        self.dependency_results: dict[str, Any] = dependency_results or {}

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def job_type(self) -> str:
        return self.job.job_type

    @property
    def attempt(self) -> int:
        return self.job.attempt

    @property
    def max_attempts(self) -> int:
        return self.job.max_attempts

    @property
    def queue(self) -> str:
        return self.job.queue

    @property
    def metadata(self) -> dict[str, Any]:
        return self.job.metadata

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled, timed out or the worker is shutting down."""
        return self._cancelled

    def _mark_cancelled(self) -> None:
        self._cancelled = True

    async def progress(
        self, percent: float | None = None, *, step: str | None = None, message: str | None = None
    ) -> None:
        await self._backend.save_progress(self.job, _progress(percent, step, message))

    async def log(self, level: str, message: str) -> None:
        await self._backend.save_log(self.job, _level(level), str(message))

    async def checkpoint(self, data: Any) -> None:
        """Save `data` durably; the next attempt of this job reads it as `checkpoint_data`."""
        await self._backend.save_checkpoint(self.job, data)
        self.checkpoint_data = data


class SyncJobContext:
    """The same surface with blocking methods, for sync handlers running in a thread."""

    def __init__(self, ctx: JobContext, loop: asyncio.AbstractEventLoop) -> None:
        self._ctx = ctx
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def cancelled(self) -> bool:
        return self._ctx.cancelled

    @property
    def checkpoint_data(self) -> Any:
        return self._ctx.checkpoint_data

    def _call(self, coro: Any) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def progress(
        self, percent: float | None = None, *, step: str | None = None, message: str | None = None
    ) -> None:
        self._call(self._ctx.progress(percent, step=step, message=message))

    def log(self, level: str, message: str) -> None:
        self._call(self._ctx.log(level, message))

    def checkpoint(self, data: Any) -> None:
        self._call(self._ctx.checkpoint(data))
