"""Runs one attempt of one job and turns whatever happens into an `Outcome`; never raises."""

from __future__ import annotations

import asyncio
import json
import traceback
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ..context import JobContext, SyncJobContext
from ..errors import Fail, InvalidParameters, Retry
from ..handler import Handler
from ..job import ClaimedJob
from ..outcome import Cancelled, Completed, Failed, Outcome, Released, RetryRequested
from .threads import JobInterrupted, SyncPool


@dataclass(slots=True)
class RunningJob:
    """A job in flight on this worker, and why it is being stopped, if it is."""

    job: ClaimedJob
    ctx: JobContext
    task: asyncio.Task[Any] | None = None
    thread: Any = None
    future: asyncio.Future[Any] | None = None
    stop_reason: str | None = None  # "cancelled" | "lost" | "shutdown"
    extra: dict[str, Any] = field(default_factory=dict)


def error_info(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def _exception_error(exc: BaseException) -> dict[str, Any]:
    return error_info(
        "HANDLER_ERROR",
        str(exc) or type(exc).__name__,
        exception_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
        traceback="".join(traceback.format_exception(exc)),
    )


_JSON_SCALARS = frozenset({type(None), str, int, float, bool})


def _jsonable(result: Any) -> Any:
    if type(result) in _JSON_SCALARS:  # None (most handlers), str, numbers: nothing to check
        return result
    if isinstance(result, pydantic.BaseModel):
        return result.model_dump(mode="json")
    json.dumps(result)  # raises TypeError/ValueError for what JSON cannot hold
    return result


SYNC_CANCEL_GRACE_SECONDS = 5.0


class _AttemptTimedOut(Exception):
    pass


async def _call_async(handler: Handler, running: RunningJob, params: Any, timeout: float | None) -> Any:
    if timeout is None:
        return await handler.fn(running.ctx, params)
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await handler.fn(running.ctx, params)
    except TimeoutError:
        if deadline.expired():
            running.ctx._mark_cancelled()
            raise _AttemptTimedOut from None
        raise


async def _call_sync(
    handler: Handler, running: RunningJob, params: Any, timeout: float | None, pool: SyncPool
) -> Any:
    sync_ctx = SyncJobContext(running.ctx, asyncio.get_running_loop())
    fut, thread = pool.submit(lambda: handler.fn(sync_ctx, params))
    running.thread, running.future = thread, fut
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await fut
    except (asyncio.CancelledError, TimeoutError):
        # Free the slot now. A timed-out thread gets an exception at its next bytecode; a
        # cancelled one first sees ctx.cancelled and gets a few seconds to wind down itself.
        running.ctx._mark_cancelled()
        if deadline.expired():
            pool.interrupt(thread, fut)
            raise _AttemptTimedOut from None
        asyncio.get_running_loop().call_later(SYNC_CANCEL_GRACE_SECONDS, pool.interrupt, thread, fut)
        raise


async def execute(handler: Handler | None, running: RunningJob, pool: SyncPool) -> Outcome:
    job = running.job
    if handler is None:
        message = f"no handler for job_type {job.job_type!r} on this worker"
        return RetryRequested(error_info("NO_HANDLER", message))
    timeout = job.timeout if job.timeout is not None else handler.timeout
    try:
        params = handler.parse(job.parameters)
        if handler.is_async:
            result = await _call_async(handler, running, params, timeout)
        else:
            result = await _call_sync(handler, running, params, timeout, pool)
    except asyncio.CancelledError:
        return _stopped(running)
    except JobInterrupted:
        return _stopped(running)
    except _AttemptTimedOut:
        return RetryRequested(error_info("TIMEOUT", f"attempt exceeded its timeout of {timeout}s"))
    except Retry as exc:
        return RetryRequested(error_info("RETRY", exc.message), delay=exc.delay)
    except Fail as exc:
        return Failed(error_info(exc.code, exc.message, **exc.details))
    except InvalidParameters as exc:
        return Failed(error_info("INVALID_PARAMETERS", str(exc), field=exc.field, errors=exc.errors))
    except Exception as exc:
        return RetryRequested(_exception_error(exc))
    if running.stop_reason is not None:
        return _stopped(running)  # finished, but after a cancel: record nothing
    try:
        return Completed(_jsonable(result))
    except (TypeError, ValueError) as exc:
        return Failed(error_info("RESULT_NOT_SERIALIZABLE", f"handler result is not JSON: {exc}"))


def _stopped(running: RunningJob) -> Outcome:
    if running.stop_reason == "shutdown":
        return Released()
    return Cancelled()  # cancelled or lease lost: the store already moved the job on
