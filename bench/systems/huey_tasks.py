"""Huey's tasks for the benchmark; the store comes from $BENCH_STORE_URL (sqlite:///… or redis://…)."""

from __future__ import annotations

import os

from huey import RedisHuey, SqliteHuey

from bench.systems._peer import stamp

_url = os.environ["BENCH_STORE_URL"]
if _url.startswith("sqlite:"):
    huey = SqliteHuey("bench", filename=_url.removeprefix("sqlite://")[1:])
else:
    huey = RedisHuey("bench", url=_url)


@huey.task()
def noop(i: int) -> None:
    stamp(i)
