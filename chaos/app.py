"""The app the chaos workers run: one handler that records every execution durably, then returns.

`record` appends "<job_id> <pid> <attempt> <token> <unix time>" to $CHAOS_DIR/executions.log with a single
O_APPEND write (atomic for a short line, and in the kernel's page cache before the handler goes on,
so a SIGKILL right after it cannot lose it), sleeps a few milliseconds, and returns the same pid,
attempt and token: the stored result names exactly one recorded execution.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

from conveyor import Conveyor, JobContext

EXECUTIONS = "executions.log"
DEFAULT_JOB_MS = 5.0


def executions_path() -> Path:
    return Path(os.environ["CHAOS_DIR"]) / EXECUTIONS


def append_line(path: Path, line: str) -> None:
    """One write(2) on an O_APPEND descriptor: concurrent writers never interleave a short line."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


async def record(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    token = uuid.uuid4().hex
    append_line(executions_path(), f"{ctx.job_id} {os.getpid()} {ctx.attempt} {token} {time.time():.6f}")
    await asyncio.sleep(float(params.get("ms", DEFAULT_JOB_MS)) / 1000)
    return {"pid": os.getpid(), "attempt": ctx.attempt, "token": token}


def create_app() -> Conveyor:
    app = Conveyor()
    app.register("record", record)
    return app
