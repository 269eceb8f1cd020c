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
        def run(reserved: int = 0) -> Any:
            self.threads.append(threading.current_thread().name)
            if isinstance(value, BaseException):
                raise value
            return value

        return run


async def from_listener(eager: EagerClaim[Any, Any], messages: list[str]) -> list[str]:
    """Call the hook on a thread of its own, as the listener does; the loop stays free meanwhile."""
    return await asyncio.to_thread(eager.on_messages, messages)


def test_armed_claim_runs_on_the_listener_thread_once_and_covers_the_wakeups() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        left = await from_listener(eager, ["c:abc", "j:default", "j:other"])
        assert left == ["c:abc", "j:other"]  # the claim saw what "j:default" announced
        await eager.disarm()  # delivered already, or about to be
        assert rec.delivered == [(["job-1"], None)]
        assert rec.threads and rec.threads[0] != threading.current_thread().name
        # one-shot: a second wake-up is handed over untouched, nothing claimed
        assert await from_listener(eager, ["j:default"]) == ["j:default"]
        assert len(rec.delivered) == 1

    asyncio.run(main())


def test_unwanted_messages_leave_it_armed() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        assert await from_listener(eager, ["j:other", "s:123.0", "c:*"]) == ["j:other", "s:123.0", "c:*"]
        assert rec.threads == []
        assert await from_listener(eager, ["j:*"]) == []
        await eager.disarm()
        assert rec.delivered == [(["job-1"], None)]

    asyncio.run(main())


def test_disarmed_before_a_wakeup_claims_nothing() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        eager.arm(rec.claim(["job-1"]))
        await eager.disarm()
        assert await from_listener(eager, ["j:default"]) == ["j:default"]
        await asyncio.sleep(0)  # let any (wrongly) scheduled delivery run
        assert rec.threads == [] and rec.delivered == []

    asyncio.run(main())


def test_a_failed_claim_is_delivered_and_the_wakeups_handed_over() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        boom = RuntimeError("store down")
        eager.arm(rec.claim(boom))
        assert await from_listener(eager, ["j:default"]) == ["j:default"]  # the fetcher must look itself
        await eager.disarm()
        assert rec.delivered == [(None, boom)]

    asyncio.run(main())


def test_disarm_while_the_claim_runs_waits_for_its_delivery() -> None:
    async def main() -> None:
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver)
        started, release = threading.Event(), threading.Event()

        def slow_claim(reserved: int) -> list[str]:
            started.set()
            assert release.wait(10)
            return ["job-1"]

        eager.arm(slow_claim)
        hook = asyncio.ensure_future(from_listener(eager, ["j:default"]))
        assert await asyncio.to_thread(started.wait, 10)
        busy = asyncio.ensure_future(eager.disarm())
        await asyncio.sleep(0.05)
        assert not busy.done()
        release.set()
        await asyncio.wait_for(busy, 10)
        assert rec.delivered == [(["job-1"], None)]
        assert await hook == []

    asyncio.run(main())


# -- the hand-off ticket (a stand-in for the store's: what the listener thread would run) --------


class FakeTicket:
    """The store's side of a ticket: `take()` is an enqueue handing a job over through it."""

    def __init__(self, lockable: bool = True) -> None:
        self.lockable = lockable
        self.in_store = False
        self.calls: list[str] = []

    def lock(self) -> bool:
        self.calls.append("lock")
        return self.lockable

    def park(self) -> None:
        self.calls.append("park")
        self.in_store = True

    def unpark(self) -> bool:
        self.calls.append("unpark")
        was, self.in_store = self.in_store, False
        return was

    def take(self) -> str:
        assert self.in_store
        self.in_store = False
        return "r:me job-h"

    def handed(self, message: str) -> str | None:
        return message.removeprefix("r:me ") if message.startswith("r:me ") else None


class Listener:
    """Runs the hook's listener-side calls on a thread of its own, as PgListener's thread does;
    `poke()` is answered by `serve()`."""

    def __init__(self) -> None:
        self.pokes = 0

    def poke(self) -> None:
        self.pokes += 1

    async def serve(self, eager: EagerClaim[Any, Any]) -> None:
        await asyncio.to_thread(eager.on_poke, True)


def parking(ticket: FakeTicket, listener: Listener, handed: list[Any]) -> tuple[EagerClaim[Any, Any], Recorder]:
    rec = Recorder()
    eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver, ticket,
                                             listener.poke, handed.append)
    return eager, rec


class Parked:
    """A hook whose session holds the lock, armed with `claim`, its ticket in the store."""

    def __init__(self) -> None:
        self.ticket, self.listener, self.handed = FakeTicket(), Listener(), []
        self.eager, self.rec = parking(self.ticket, self.listener, self.handed)

    async def arm(self, claim: Any = None) -> Parked:
        await asyncio.to_thread(self.eager.on_connect)
        self.eager.arm(claim or self.rec.claim(["job-1"]), park=True)
        await self.listener.serve(self.eager)
        assert self.ticket.in_store
        return self


async def disarm_served(eager: EagerClaim[Any, Any], listener: Listener) -> None:
    """Disarm while the listener thread answers the poke that withdraws the ticket."""
    task = asyncio.ensure_future(eager.disarm())
    await asyncio.sleep(0)
    await listener.serve(eager)
    await asyncio.wait_for(task, 10)


def test_armed_it_parks_and_a_handed_job_uses_up_the_arm() -> None:
    async def main() -> None:
        ticket, listener, handed = FakeTicket(), Listener(), []
        eager, rec = parking(ticket, listener, handed)
        await asyncio.to_thread(eager.on_connect)
        assert ticket.calls == ["lock"] and not ticket.in_store  # nothing wanted yet
        eager.arm(rec.claim(["job-1"]), park=True)
        assert listener.pokes == 1
        await listener.serve(eager)
        assert ticket.in_store and ticket.calls == ["lock", "park"]
        assert await from_listener(eager, ["c:x", ticket.take(), "r:other job-z"]) == ["c:x"]
        await asyncio.sleep(0.01)
        assert handed == ["job-h"] and eager.reserved() == 0
        assert await from_listener(eager, ["j:default"]) == ["j:default"]  # used up: no claim
        await eager.disarm()  # nothing to withdraw: the ticket was taken
        assert ticket.calls == ["lock", "park"] and rec.delivered == []

    asyncio.run(main())


def test_disarm_withdraws_the_ticket() -> None:
    async def main() -> None:
        p = await Parked().arm()
        await disarm_served(p.eager, p.listener)
        assert p.ticket.calls == ["lock", "park", "unpark"] and not p.ticket.in_store
        assert p.eager.reserved() == 0 and p.handed == []

    asyncio.run(main())


def test_a_ticket_taken_before_its_withdrawal_reserves_a_slot_until_the_job_arrives() -> None:
    async def main() -> None:
        p = await Parked().arm()
        message = p.ticket.take()  # an enqueue took it; its wake-up has not arrived yet
        await disarm_served(p.eager, p.listener)
        assert p.eager.reserved() == 1  # the fetcher counts that job as running already
        await from_listener(p.eager, [message])
        await asyncio.sleep(0.01)
        assert p.handed == ["job-h"] and p.eager.reserved() == 0

    asyncio.run(main())


def test_a_wakeup_while_parked_withdraws_first_and_leaves_a_taken_slot_free() -> None:
    async def main() -> None:
        reserved_seen: list[int] = []

        def claim(reserved: int) -> list[str]:
            reserved_seen.append(reserved)
            return ["job-1"]

        p = await Parked().arm(claim)
        message = p.ticket.take()
        assert await from_listener(p.eager, ["j:default"]) == []
        assert reserved_seen == [1] and p.ticket.calls[-1] == "unpark" and p.eager.reserved() == 1
        await from_listener(p.eager, [message])
        await p.eager.disarm()
        assert p.handed == ["job-h"] and p.eager.reserved() == 0

    asyncio.run(main())


def test_without_the_lock_it_never_parks_and_a_lost_session_forgets_its_ticket() -> None:
    async def main() -> None:
        ticket, listener, handed = FakeTicket(lockable=False), Listener(), []
        eager, rec = parking(ticket, listener, handed)
        await asyncio.to_thread(eager.on_connect)
        eager.arm(rec.claim(["job-1"]), park=True)
        await listener.serve(eager)
        assert ticket.calls == ["lock"]
        await eager.disarm()

        ticket.lockable = True
        await asyncio.to_thread(eager.on_connect)  # a new session: now it parks
        eager.arm(rec.claim(["job-1"]), park=True)
        await listener.serve(eager)
        assert ticket.calls[-1] == "park"
        ticket.take()
        await disarm_served(eager, listener)  # taken: one job in transit...
        assert eager.reserved() == 1
        await asyncio.to_thread(eager.on_disconnect)  # ...lost with the session (its lease runs out)
        assert eager.reserved() == 0

    asyncio.run(main())


def test_a_job_handed_over_through_a_lost_sessions_ticket_is_put_back_not_started() -> None:
    """An enqueue took the ticket just before the LISTEN connection dropped and committed once the
    new session listened: no slot was kept for that job, so it goes back, and reserves nothing."""

    async def main() -> None:
        released: list[Any] = []
        ticket, listener, handed = FakeTicket(), Listener(), []
        rec = Recorder()
        eager: EagerClaim[Any, Any] = EagerClaim(asyncio.get_running_loop(), wants_default, rec.deliver, ticket,
                                                 listener.poke, handed.append, released.append)
        await asyncio.to_thread(eager.on_connect)
        eager.arm(rec.claim(["job-1"]), park=True)
        await listener.serve(eager)
        message = ticket.take()
        await asyncio.to_thread(eager.on_disconnect)
        await eager.disarm()  # the fetcher went on to claim by itself
        await asyncio.to_thread(eager.on_connect)  # the new session, listening before the commit
        await from_listener(eager, [message])
        await asyncio.sleep(0.01)
        assert released == ["job-h"] and handed == [] and eager.reserved() == 0
        # while parked in the new session, a hand-off is ours as before
        eager.arm(rec.claim(["job-1"]), park=True)
        await listener.serve(eager)
        await from_listener(eager, [ticket.take()])
        await asyncio.sleep(0.01)
        assert handed == ["job-h"] and released == ["job-h"]

    asyncio.run(main())
