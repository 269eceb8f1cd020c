"""arq's worker settings for the benchmark (`arq bench.systems.arq_tasks.WorkerSettings`)."""

from __future__ import annotations

import os
from typing import Any

from arq.connections import RedisSettings

from bench.systems._peer import stamp


async def noop(ctx: dict[str, Any], i: int) -> None:
    stamp(i)


class WorkerSettings:
    functions = [noop]
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9"))


async def cpu(ctx: dict[str, Any], i: int) -> None:
    """W6: arq runs coroutines only; the loop blocks this worker's event loop for its 20 ms."""
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)


WorkerSettings.functions = [noop, cpu]  # type: ignore[list-item]
