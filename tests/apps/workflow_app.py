"""A test app for workflow, batch, cron and limit tests run by real worker processes.

Handlers append "<event> <job_id> <job_type> <time> <pid>" lines to $CONVEYOR_TEST_MARKERS/events.log.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from conveyor import Conveyor, JobContext


def _log(event: str, ctx: JobContext) -> None:
    path = Path(os.environ["CONVEYOR_TEST_MARKERS"]) / "events.log"
    with open(path, "a") as fh:
        fh.write(f"{event} {ctx.job_id} {ctx.job_type} {time.time():.6f} {os.getpid()}\n")


async def step(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    _log("start", ctx)
    await asyncio.sleep(float(params.get("seconds", 0.05)))
    if params.get("fail_marker") and os.path.exists(params["fail_marker"]):
        _log("fail", ctx)
        raise RuntimeError(f"{ctx.job_type} failed on purpose")
    _log("end", ctx)
    return {"step": ctx.job_type, "inputs": sorted(
        (r or {}).get("step", "?") for r in ctx.dependency_results.values())}


def create_app() -> Conveyor:
    app = Conveyor()
    for name in ("parse", "preprocess", "embeddings", "metadata", "store", "child", "tick"):
        app.register(name, step, max_attempts=1)
    app.register("gpu", step, concurrency_limit=1)
    app.register("api", step, rate_limit="10/s")
    if os.environ.get("CONVEYOR_TEST_CRON"):
        app.add_periodic("cron-tick", os.environ["CONVEYOR_TEST_CRON"], "tick", {"seconds": 0})
    return app
