"""A test app for `--app tests.cli.gate_app:create_app`: the examples plus `gate`, a job that
reports a step and then waits until the test creates a file, so a test decides when it ends."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from conveyor import Conveyor, JobContext
from conveyor.examples import register_examples


async def gate(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    await ctx.progress(50, step="waiting_for_gate", message="Waiting for the test")
    while not os.path.exists(params["path"]) and not ctx.cancelled:
        await asyncio.sleep(0.02)
    return {"opened": True}


def create_app() -> Conveyor:
    app = register_examples(Conveyor())
    app.register("gate", gate)
    return app
