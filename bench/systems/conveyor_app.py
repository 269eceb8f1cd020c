"""The handlers the benchmark's Conveyor workers run (`--app bench.systems.conveyor_app:create_app`)."""

from __future__ import annotations

import time
from typing import Any

from conveyor import Conveyor, JobContext, SyncJobContext

from ._cpu import burn


async def noop(ctx: JobContext, params: dict[str, Any]) -> None:
    return None


async def stamp(ctx: JobContext, params: dict[str, Any]) -> dict[str, float]:
    """Records when the handler started, for enqueue-to-start latency (same machine, same clock)."""
    return {"t": time.time()}


def cpu(ctx: SyncJobContext, params: dict[str, Any]) -> None:
    """W6: ~20 ms of pure-Python CPU work, a sync handler (Conveyor runs it on a pooled thread)."""
    burn()


def register(app: Conveyor) -> Conveyor:
    app.register("noop", noop)
    app.register("stamp", stamp)
    app.register("cpu", cpu)
    return app


def create_app() -> Conveyor:
    return register(Conveyor())
