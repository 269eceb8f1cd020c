"""A test app for subprocess workers: handlers that record, crash, checkpoint and run long.

Handlers write marker files into $CONVEYOR_TEST_MARKERS so the test process can see what ran.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from conveyor import Conveyor, JobContext
from conveyor.context import SyncJobContext


def _markers() -> Path:
    path = Path(os.environ["CONVEYOR_TEST_MARKERS"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mark(name: str, text: str = "") -> None:
    with open(_markers() / name, "a") as fh:  # O_APPEND: one small write is atomic
        fh.write(text + "\n")


async def record(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Appends its job id to executions.log: counts how often each job ran."""
    _mark("executions.log", f"{ctx.job_id} {os.getpid()}")
    return {"pid": os.getpid()}


async def slow(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Signals that it started, then runs `seconds` (first attempt only, if `first_only`)."""
    _mark(f"started-{ctx.job_id}", f"{ctx.attempt} {os.getpid()}")
    if not params.get("first_only") or ctx.attempt == 1:
        await asyncio.sleep(float(params.get("seconds", 60)))
    return {"attempt": ctx.attempt, "pid": os.getpid()}


async def suicide(ctx: JobContext, params: dict[str, Any]) -> None:
    """Kills its own worker process, every time: a poison job."""
    _mark(f"started-{ctx.job_id}", str(ctx.attempt))
    os.kill(os.getpid(), signal.SIGKILL)


async def resumable(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints page 7 on its first attempt and then hangs; later attempts resume from it."""
    if ctx.checkpoint_data is None:
        await ctx.checkpoint({"page": 7})
        _mark(f"checkpointed-{ctx.job_id}", str(ctx.attempt))
        await asyncio.sleep(60)
    return {"resumed_from": ctx.checkpoint_data, "attempt": ctx.attempt}


def sync_slow(ctx: SyncJobContext, params: dict[str, Any]) -> dict[str, Any]:
    _mark(f"started-{ctx.job_id}", str(ctx.attempt))
    time.sleep(float(params.get("seconds", 60)))
    return {"attempt": ctx.attempt}


def create_app() -> Conveyor:
    app = Conveyor()
    app.register("record", record)
    app.register("slow", slow)
    app.register("suicide", suicide)
    app.register("resumable", resumable)
    app.register("sync_slow", sync_slow)
    return app
