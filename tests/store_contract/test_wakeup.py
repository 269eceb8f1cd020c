"""Contract: pushed wake-ups — notify() reaches every listener of the same store; fileno() is
readable exactly when drain() has something; drain() never blocks."""

from __future__ import annotations

import select
import time

from conveyor.store import Listener, Store
from tests.store_contract.conftest import Backend


def readable(listener: Listener, timeout: float) -> bool:
    r, _, _ = select.select([listener.fileno()], [], [], timeout)
    return bool(r)


def collect(listener: Listener, expected: int, timeout: float = 5.0) -> list[str]:
    """Drain until `expected` messages arrived (waiting on fileno, with a deadline)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {got} arrived, expected {expected} messages"
        if readable(listener, remaining):
            got.extend(listener.drain())
    return got


def test_notify_reaches_a_listener(store: Store) -> None:
    listener = store.wakeup.listen()
    try:
        assert listener.drain() == []
        store.wakeup.notify("j:default")
        assert collect(listener, 1) == ["j:default"]
        assert not readable(listener, 0.05)  # drained: no longer readable
        assert listener.drain() == []
    finally:
        listener.close()


def test_several_messages_none_lost(store: Store) -> None:
    listener = store.wakeup.listen()
    try:
        sent = ["c:job-1", "c:job-2", "j:*", "s:1767225600.5", "j:emails", "c:job-3"]
        for message in sent:
            store.wakeup.notify(message)
        assert sorted(collect(listener, len(sent))) == sorted(sent)
    finally:
        listener.close()


def test_a_burst_never_fails_the_sender_and_wakes_the_listener(store: Store) -> None:
    # Wake-ups are hints: under a burst a store may coalesce them (SQLite's datagram queue holds
    # ~10 per listener), but notify() never raises or blocks, and the listener is woken.
    listener = store.wakeup.listen()
    try:
        started = time.monotonic()
        for i in range(500):
            store.wakeup.notify(f"c:burst-{i}")
        assert time.monotonic() - started < 2.0
        assert "c:burst-0" in collect(listener, 1)
    finally:
        listener.close()


def test_every_listener_of_the_store_hears_it_from_another_process_store(backend: Backend, store: Store) -> None:
    other = backend.open(migrate=False)  # another process would open the same URL like this
    first, second = store.wakeup.listen(), other.wakeup.listen()
    try:
        other.wakeup.notify("j:emails")
        assert collect(first, 1) == ["j:emails"]
        assert collect(second, 1) == ["j:emails"]
    finally:
        first.close()
        second.close()


def test_a_closed_listener_hears_nothing_and_does_not_break_notify(store: Store) -> None:
    gone, alive = store.wakeup.listen(), store.wakeup.listen()
    gone.close()
    try:
        store.wakeup.notify("j:a")
        assert collect(alive, 1) == ["j:a"]
    finally:
        alive.close()


def test_other_stores_do_not_hear_it(backend: Backend, store: Store) -> None:
    elsewhere = backend.open(backend.make_url())
    listener = elsewhere.wakeup.listen()
    mine = store.wakeup.listen()
    try:
        store.wakeup.notify("j:private")
        assert collect(mine, 1) == ["j:private"]
        assert not readable(listener, 0.3)
    finally:
        listener.close()
        mine.close()
