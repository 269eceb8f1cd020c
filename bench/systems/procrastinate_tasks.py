"""Procrastinate's app and task for the benchmark; the database comes from $BENCH_STORE_URL."""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

from bench.systems._peer import stamp

app = App(connector=PsycopgConnector(conninfo=os.environ.get("BENCH_STORE_URL", "")))


@app.task(name="noop")
def noop(i: int) -> None:
    stamp(i)


@app.task(name="cpu")
def cpu(i: int) -> None:
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)
