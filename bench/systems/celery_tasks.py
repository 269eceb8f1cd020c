"""Celery's app and task for the benchmark; the Redis broker comes from $BENCH_STORE_URL.

W5 (a chord) needs a result backend: with $BENCH_CELERY_RESULTS set it is the same Redis (Celery's
Redis backend counts a chord's finished members with INCR and calls the callback at the last one);
the other workloads run without one, results ignored."""

from __future__ import annotations

import os

from celery import Celery

from bench.systems._peer import stamp

_url = os.environ.get("BENCH_STORE_URL", "redis://127.0.0.1:6379/9")
app = Celery("bench", broker=_url)
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False
if os.environ.get("BENCH_CELERY_RESULTS"):
    app.conf.result_backend = _url


@app.task(name="noop")
def noop(i: int) -> None:
    stamp(i)


@app.task(name="noop_r", ignore_result=False)
def noop_r(i: int) -> None:
    """A chord member: its result (None) is stored, as a chord needs."""
    stamp(i)


@app.task(name="fanin")
def fanin(*results: object) -> None:
    from bench.systems._peer import FANIN

    stamp(FANIN)


@app.task(name="cpu")
def cpu(i: int) -> None:
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)
