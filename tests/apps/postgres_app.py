"""A test app for PostgreSQL worker processes: every execution appends "<job_id> <pid>" to
$CONVEYOR_TEST_MARKERS/executions-<pid>.log (one O_APPEND write per job, no buffering), so the
test can count how often each job ran and on which process."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from conveyor import Conveyor, JobContext

_fd: list[int] = []


def _record(job_id: str) -> None:
    if not _fd:
        folder = os.environ["CONVEYOR_TEST_MARKERS"]
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"executions-{os.getpid()}.log")
        _fd.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
    os.write(_fd[0], f"{job_id} {os.getpid()}\n".encode())


async def pg_record(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Records the execution; sleeps `sleep` seconds first if given (to keep a drain going).
    Returns its process and when it started (the same machine's clock as the test's)."""
    started = time.time()
    if params.get("sleep"):
        await asyncio.sleep(float(params["sleep"]))
    _record(ctx.job_id)
    return {"pid": os.getpid(), "started": started}


def create_app() -> Conveyor:
    app = Conveyor()
    app.register("pg_record", pg_record)
    return app
