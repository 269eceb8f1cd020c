"""When the fetcher lends its event loop to the wake-up listener (fetcher.py `_borrow_if_idle`):
only while it sleeps armed with no job running — the loop blocks for a claim there — and it
takes the connection back as soon as it wakes. A fake store and listener: no database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from conveyor.clock import SystemClock
from conveyor.job import ClaimedJob, WorkerId
from conveyor.store import Store
from conveyor.store.params import ClaimResult, JobClaim
from conveyor.worker.dbthread import DbThread
from conveyor.worker.fetcher import Fetcher


class EmptyStore:
    def __init__(self) -> None:
        self.claims = 0

    def job_claim(self, params: JobClaim) -> ClaimResult:
        self.claims += 1
        return ClaimResult(jobs=[], next_scheduled_at=None)


class Lender:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def lend_to_loop(self) -> None:
        self.calls.append("lend")

    def take_back(self) -> None:
        self.calls.append("back")


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def test_lends_only_while_armed_with_no_job_running_and_takes_back_on_waking() -> None:
    async def main() -> None:
        store, db, lender = EmptyStore(), DbThread("test-db"), Lender()
        running: list[ClaimedJob] = []
        fetcher = Fetcher(
            cast(Store, store), db, SystemClock(), WorkerId("w"), None, concurrency=2, batch=10,
            lease_seconds=30, poll_interval=30, in_flight=lambda: len(running), start=running.append,
        )
        fetcher.make_eager(lender)
        running.append(cast(Any, "a job"))  # busy: the loop must not block on claims
        task = asyncio.create_task(fetcher.run())
        try:
            await until(lambda: store.claims == 1 and fetcher._armed, "asleep, armed")
            assert lender.calls == []
            running.clear()
            fetcher.slot_freed()  # the last job ended: now the loop may claim
            assert lender.calls == ["lend"]
            fetcher.on_message("j:default")  # a wake-up handed over (not claimed by the listener)
            await until(lambda: store.claims == 2, "the fetcher's own claim")
            assert lender.calls[:2] == ["lend", "back"]  # taken back before claiming itself
            await until(lambda: fetcher._armed, "asleep again")
            assert lender.calls == ["lend", "back", "lend"]  # idle again: lent again at once
        finally:
            fetcher.stop()
            await asyncio.wait_for(task, 10)
            db.shutdown()
        assert lender.calls[-1] == "back"

    asyncio.run(main())
