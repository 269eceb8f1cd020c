"""Example handlers shipped for demos and tests: `conveyor up` loads them (`conveyor.examples:app`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pydantic

from .app import Conveyor
from .context import JobContext, SyncJobContext
from .errors import Fail


class SleepParams(pydantic.BaseModel):
    seconds: float = pydantic.Field(1.0, ge=0, le=3600)


class FailParams(pydantic.BaseModel):
    message: str = "this job fails on purpose"
    retryable: bool = False


class ProgressParams(pydantic.BaseModel):
    steps: int = pydantic.Field(5, ge=1, le=1000)
    step_seconds: float = pydantic.Field(0.5, ge=0, le=60)


async def echo(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Returns its parameters."""
    return {"echo": params}


async def noop(ctx: JobContext, params: dict[str, Any]) -> None:
    """Does nothing: for throughput benchmarks."""
    return None


async def sleep(ctx: JobContext, params: SleepParams) -> dict[str, Any]:
    """Sleeps `seconds` (cancellable)."""
    await asyncio.sleep(params.seconds)
    return {"slept": params.seconds}


def sleep_sync(ctx: SyncJobContext, params: SleepParams) -> dict[str, Any]:
    """A sync handler: runs on a thread, never blocking the worker's event loop."""
    deadline = time.monotonic() + params.seconds
    while time.monotonic() < deadline and not ctx.cancelled:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return {"slept": params.seconds}


async def fail(ctx: JobContext, params: FailParams) -> None:
    """Fails: at once (`Fail`) or by raising, which retries with backoff."""
    if params.retryable:
        raise RuntimeError(params.message)
    raise Fail("EXAMPLE_FAILURE", params.message, {"retryable": False})


async def progress(ctx: JobContext, params: ProgressParams) -> dict[str, Any]:
    """Reports progress step by step, like a document pipeline would."""
    await ctx.log("info", f"starting {params.steps} steps")
    for i in range(params.steps):
        percent = round(100 * i / params.steps)
        await ctx.progress(percent, step=f"step_{i + 1}", message=f"Step {i + 1} of {params.steps}")
        await asyncio.sleep(params.step_seconds)
    await ctx.progress(100, step="done", message="Finished")
    await ctx.log("info", "all steps done")
    return {"steps": params.steps}


def register_examples(app: Conveyor) -> Conveyor:
    app.register("echo", echo)
    app.register("noop", noop)
    app.register("sleep", sleep)
    app.register("sleep_sync", sleep_sync)
    app.register("fail", fail, max_attempts=1)
    app.register("progress", progress)
    return app


def create_app() -> Conveyor:
    return register_examples(Conveyor())
