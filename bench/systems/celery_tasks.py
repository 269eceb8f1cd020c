"""Celery's app and task for the benchmark; the Redis broker comes from $BENCH_STORE_URL."""

from __future__ import annotations

import os

from celery import Celery

from bench.systems._peer import stamp

app = Celery("bench", broker=os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9"))
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False


@app.task(name="noop")
def noop(i: int) -> None:
    stamp(i)
