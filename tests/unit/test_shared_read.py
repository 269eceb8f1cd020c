"""The dashboard's shared overview read: polls coalesce, and an answer stays fresh for a time
that grows with what the read cost. A hand-driven clock; reads are coroutines the test releases."""

from __future__ import annotations

import asyncio

import pytest

from conveyor.dashboard.shared import COST_FACTOR, SharedRead


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Reads:
    """Each read waits for the test to release it, taking `cost` seconds of the clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.count = 0
        self.release = asyncio.Event()
        self.cost = 0.0

    async def __call__(self) -> int:
        self.count += 1
        await self.release.wait()
        self.clock.now += self.cost
        return self.count


def test_polls_during_a_read_share_it_and_the_answer_serves_the_floor() -> None:
    async def scenario() -> None:
        clock = Clock()
        reads = Reads(clock)
        shared: SharedRead[int] = SharedRead(floor=1.0, clock=clock)
        polls = [asyncio.create_task(shared.get(reads)) for _ in range(5)]
        await asyncio.sleep(0)
        reads.release.set()
        assert await asyncio.gather(*polls) == [1] * 5 and reads.count == 1
        clock.now += 0.9
        assert await shared.get(reads) == 1 and reads.count == 1  # still fresh
        clock.now += 0.2
        assert await shared.get(reads) == 2  # stale: read again

    asyncio.run(scenario())


def test_a_costly_read_stays_fresh_for_longer() -> None:
    async def scenario() -> None:
        clock = Clock()
        reads = Reads(clock)
        reads.release.set()
        reads.cost = 2.0  # a big table: two seconds per read
        shared: SharedRead[int] = SharedRead(floor=1.0, clock=clock)
        assert await shared.get(reads) == 1
        clock.now += COST_FACTOR * 2.0 - 0.1
        assert await shared.get(reads) == 1
        clock.now += 0.2
        assert await shared.get(reads) == 2

    asyncio.run(scenario())


def test_a_poller_that_goes_away_does_not_cancel_the_read_and_a_failed_read_is_not_kept() -> None:
    async def scenario() -> None:
        clock = Clock()
        reads = Reads(clock)
        shared: SharedRead[int] = SharedRead(floor=1.0, clock=clock)
        leaving = asyncio.create_task(shared.get(reads))
        staying = asyncio.create_task(shared.get(reads))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.sleep(0)
        reads.release.set()
        assert await staying == 1

        async def broken() -> int:
            raise RuntimeError("store down")

        clock.now += 5
        with pytest.raises(RuntimeError):
            await shared.get(broken)
        assert await shared.get(reads) == 2  # the failure left nothing behind: the next poll reads

    asyncio.run(scenario())
