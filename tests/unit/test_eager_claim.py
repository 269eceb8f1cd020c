"""The idle fetcher's eager claim (worker/eager.py), run by a listener thread: no store involved."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conveyor.worker.eager import EagerClaim


def wants_default(message: str) -> bool:
    return message in ("j:default", "j:*")


class Recorder:
    def __init__(self) -> None:
        self.delivered: list[tuple[Any, BaseException | None]] = []
        self.threads: list[str] = []

    def deliver(self, result: Any, error: BaseException | None) -> None:
        self.delivered.append((result, error))

    def claim(self, value: Any) -> Any:
        def run() -> Any:
            self.threads.append(threading.current_thread().name)
            if isinstance(value, BaseException):
                raise value
            return value

        return run


async def from_listener(eager: EagerClaim[Any], messages: list[str]) -> list[str]:
    """Call the hook on a thread of its own, as the listener does; the loop stays free meanwhile."""
    return await asyncio.to_thread(eager.on_messages, messages)


def test_armed_claim_runs_on_the_listener_thread_once_and_covers_the_wakeups() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        left = await from_listener(eager, ["c:abc", "j:default", "j:other"])
        assert left == ["c:abc", "j:other"]  # the claim saw what "j:default" announced
        busy = eager.disarm()
        if busy is not None:  # delivered already, or about to be
            await busy
        assert rec.delivered == [(["job-1"], None)]
        assert rec.threads and rec.threads[0] != threading.current_thread().name
        # one-shot: a second wake-up is handed over untouched, nothing claimed
        assert await from_listener(eager, ["j:default"]) == ["j:default"]
        assert len(rec.delivered) == 1

    asyncio.run(main())


def test_unwanted_messages_leave_it_armed() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        assert await from_listener(eager, ["j:other", "s:123.0", "c:*"]) == ["j:other", "s:123.0", "c:*"]
        assert rec.threads == []
        assert await from_listener(eager, ["j:*"]) == []
        busy = eager.disarm()
        if busy is not None:
            await busy
        assert rec.delivered == [(["job-1"], None)]

    asyncio.run(main())


def test_disarmed_before_a_wakeup_claims_nothing() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        assert eager.disarm() is None
        assert await from_listener(eager, ["j:default"]) == ["j:default"]
        await asyncio.sleep(0)  # let any (wrongly) scheduled delivery run
        assert rec.threads == [] and rec.delivered == []

    asyncio.run(main())


def test_a_failed_claim_is_delivered_and_the_wakeups_handed_over() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        boom = RuntimeError("store down")
        eager.arm(rec.claim(boom))
        assert await from_listener(eager, ["j:default"]) == ["j:default"]  # the fetcher must look itself
        busy = eager.disarm()
        if busy is not None:
            await busy
        assert rec.delivered == [(None, boom)]

    asyncio.run(main())


def test_disarm_while_the_claim_runs_waits_for_its_delivery() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        started, release = threading.Event(), threading.Event()

        def slow_claim() -> list[str]:
            started.set()
            assert release.wait(10)
            return ["job-1"]

        eager.arm(slow_claim)
        hook = asyncio.ensure_future(from_listener(eager, ["j:default"]))
        assert await asyncio.to_thread(started.wait, 10)
        busy = eager.disarm()
        assert busy is not None and not busy.done()
        release.set()
        await asyncio.wait_for(busy, 10)
        assert rec.delivered == [(["job-1"], None)]
        assert await hook == []

    asyncio.run(main())
