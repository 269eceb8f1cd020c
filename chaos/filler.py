"""The enqueuing process of the disk-full scenario (`python -m chaos.filler URL ACKED_FILE`).

Enqueues one job at a time (`parameters.i` numbers them) until an enqueue fails, appending
"<i> <job_id>" to ACKED_FILE for every acknowledged one; reports the failure as a JSON line on
stdout, tries a few more while full and one batch bigger than SQLite's page cache (its pages
spill to disk before COMMIT: the failure comes from inside the transaction), then waits for
"go" on stdin (space was freed) and enqueues a few more. Each stdout line is one JSON event:
ready, full, still_full, big_batch, after.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from conveyor import Conveyor, ConveyorError

from .app import append_line, create_app

PAD = "x" * 1024  # each job carries 1 KB, so the disk fills in a few hundred jobs
MAX_JOBS = 100_000
TRIES_WHILE_FULL = 3
AFTER_FREED = 5
BIG_BATCH = (1000, 40_000)  # jobs × bytes each: 40 MB, more than the store's 32 MB page cache


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _describe(exc: BaseException) -> dict[str, Any]:
    kind = type(exc)
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(exc),
            "conveyor_error": isinstance(exc, ConveyorError)}


def _big_batch(app: Conveyor, after: int, acked_file: Path) -> dict[str, Any]:
    count, size = BIG_BATCH
    numbers = range(after + 1, after + 1 + count)
    try:
        jobs = app.enqueue_many([("record", {"i": n, "ms": 1, "pad": "y" * size}) for n in numbers])
    except Exception as exc:  # reported to the harness, which judges it
        return {"ok": False, **_describe(exc)}
    for n, job in zip(numbers, jobs, strict=True):
        append_line(acked_file, f"{n} {job.job_id}")
    return {"ok": True}


def main(url: str, acked_file: Path) -> int:
    app = create_app()
    app.configure(database_url=url)
    app.open()
    _emit("ready", pid=os.getpid())
    i = 0

    def enqueue() -> BaseException | None:
        nonlocal i
        i += 1
        try:
            job = app.enqueue("record", {"i": i, "ms": 1, "pad": PAD})
        except Exception as exc:  # reported to the harness, which judges it
            return exc
        append_line(acked_file, f"{i} {job.job_id}")
        return None

    error = None
    while error is None and i < MAX_JOBS:
        error = enqueue()
    if error is None:
        _emit("never_full", acked=i)
        return 1
    _emit("full", acked=i - 1, **_describe(error))
    errors = [enqueue() for _ in range(TRIES_WHILE_FULL)]
    _emit("still_full", errors=[_describe(e) if e else None for e in errors])
    _emit("big_batch", **_big_batch(app, i, acked_file))
    i += BIG_BATCH[0]
    if sys.stdin.readline().strip() != "go":
        return 1
    after = [enqueue() for _ in range(AFTER_FREED)]
    _emit("after", ok=sum(e is None for e in after), errors=[_describe(e) for e in after if e])
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
