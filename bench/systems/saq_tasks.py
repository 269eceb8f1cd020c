"""SAQ's worker settings for the benchmark (`saq bench.systems.saq_tasks.settings`)."""

from __future__ import annotations

import os
from typing import Any

from saq import Queue

from bench.systems._peer import stamp


async def noop(ctx: Any, *, i: int) -> None:
    stamp(i)


queue = Queue.from_url(os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9"), name="bench")
settings = {"queue": queue, "functions": [noop], "concurrency": 10}


async def cpu(ctx: Any, *, i: int) -> None:
    """W6: the loop blocks this worker process's event loop for its 20 ms (SAQ runs coroutines)."""
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)


settings["functions"] = [noop, cpu]
