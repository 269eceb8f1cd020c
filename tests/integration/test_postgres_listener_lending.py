"""PgListener lends its LISTEN connection to the event loop (`lend_to_loop` / `take_back`): while
lent, the loop reads the notifications and runs the hook itself; the thread parks and serves the
connection again once taken back. Nothing may be lost across the hand-overs, and the thread still
reconnects when the connection dies while the loop holds it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from conveyor import Conveyor
from conveyor.settings import Settings
from conveyor.store.postgres.wakeup import PgListener
from tests.conftest import require_postgres
from tests.postgres_helpers import fresh_schema, schema_of, terminate_connections

pytestmark = pytest.mark.postgres


@pytest.fixture
def app() -> Iterator[Conveyor]:
    with fresh_schema(require_postgres(), "lend") as url:
        app = Conveyor(settings=Settings(database_url=url, poll_interval=30.0))
        app.open()
        yield app
        app.close()


class Seen:
    """What reached the loop, and on which thread the hook saw each message."""

    def __init__(self, listener: PgListener) -> None:
        self.hook_threads: dict[str, int] = {}
        self.drained: list[str] = []
        self.listener = listener
        listener.intercept(self.hook)
        asyncio.get_running_loop().add_reader(listener.fileno(), self.on_readable)

    def hook(self, messages: list[str]) -> list[str]:
        for m in messages:
            self.hook_threads[m] = threading.get_ident()
        return messages  # hand everything over: the test counts what reaches the loop

    def on_readable(self) -> None:
        self.drained += self.listener.drain()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.listener.fileno())


def notify_all(url: str, channel: str, messages: list[str], gap: float = 0.0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for m in messages:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, m))
            if gap:
                time.sleep(gap)


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.002)


def listen(app: Conveyor) -> PgListener:
    listener = app.store.wakeup.listen()
    assert isinstance(listener, PgListener)
    return listener


def test_lent_connection_runs_the_hook_on_the_loop_then_on_the_thread_again(app: Conveyor) -> None:
    url = app.settings.database_url

    async def main() -> None:
        listener = listen(app)
        seen = Seen(listener)
        channel = listener._target.channel
        loop_thread = threading.get_ident()
        try:
            listener.lend_to_loop()
            await until(lambda: listener.lent_to_loop, what="the loop holds the connection")
            await asyncio.to_thread(notify_all, url, channel, ["x:on-loop"])
            await until(lambda: "x:on-loop" in seen.drained, what="the message")
            assert seen.hook_threads["x:on-loop"] == loop_thread
            listener.take_back()
            assert not listener.lent_to_loop
            await asyncio.to_thread(notify_all, url, channel, ["x:on-thread"])
            await until(lambda: "x:on-thread" in seen.drained, what="the message")
            assert seen.hook_threads["x:on-thread"] != loop_thread
        finally:
            seen.close()
            listener.close()

    asyncio.run(main())


def test_no_message_is_lost_while_the_connection_changes_hands(app: Conveyor) -> None:
    url = app.settings.database_url
    sent = [f"x:{i}" for i in range(300)]

    async def main() -> None:
        listener = listen(app)
        seen = Seen(listener)
        loop_thread = threading.get_ident()
        sender = asyncio.ensure_future(asyncio.to_thread(notify_all, url, listener._target.channel, sent, 0.0005))
        try:
            while not sender.done():  # lend and take back over and over while the messages arrive
                listener.lend_to_loop()
                await asyncio.sleep(0.003)
                listener.take_back()
                await asyncio.sleep(0.002)
            await sender
            await until(lambda: len(seen.drained) >= len(sent), what="every message")
        finally:
            seen.close()
            listener.close()
        assert sorted(seen.drained) == sorted(sent)  # none lost, none twice
        on_loop = sum(1 for t in seen.hook_threads.values() if t == loop_thread)
        assert 0 < on_loop < len(sent), on_loop  # both sides read some: the hand-overs were exercised

    asyncio.run(main())


def test_the_thread_reconnects_when_the_lent_connection_dies(app: Conveyor) -> None:
    url = app.settings.database_url

    async def main() -> None:
        listener = listen(app)
        seen = Seen(listener)
        loop_thread = threading.get_ident()
        try:
            listener.lend_to_loop()
            await until(lambda: listener.lent_to_loop, what="the loop holds the connection")
            killed = await asyncio.to_thread(terminate_connections, require_postgres(), schema_of(url))
            assert killed >= 1
            # the loop sees the socket close and gives it back; the thread reconnects, announces
            # what may have been missed, and lends the new connection (still wanted) again
            await until(lambda: listener.reconnects >= 1 and listener.lent_to_loop, what="reconnected and lent")
            assert "j:*" in seen.drained
            await asyncio.to_thread(notify_all, url, listener._target.channel, ["x:after"])
            await until(lambda: "x:after" in seen.drained, what="a message after the reconnect")
            assert seen.hook_threads["x:after"] == loop_thread
        finally:
            seen.close()
            listener.close()

    asyncio.run(main())
