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


@huey.task()
def cpu(i: int) -> None:
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)


@huey.task()
def fanin(*results: object) -> None:
    """A chord's callback: Huey calls it with the members' results once all have finished."""
    from bench.systems._peer import FANIN

    stamp(FANIN)
