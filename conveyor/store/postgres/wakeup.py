"""Pushed wake-ups between machines sharing one PostgreSQL database: LISTEN/NOTIFY.

`notify()` never blocks an event loop (the worker calls it on its loop): there, messages are
handed to a sender thread that NOTIFYs each burst in one round trip; elsewhere it sends at once.
A `PgListener` owns a dedicated LISTEN connection served by its own thread, which hands
messages over through a pipe — so `fileno()` stays the same for the listener's whole life
(asyncio's `add_reader` keeps working) while the thread reconnects and re-LISTENs by itself
after a server restart, then announces `j:*` and `s:0` so workers look for what they missed.
An idle worker hooks in (`intercept`): the thread claims the announced jobs on arrival, on the
LISTEN connection itself (`hot_path`: the store's claims run there, with its session settings),
and keeps the worker's hand-off ticket there (its lock lives in this session; `poke` asks the
thread to act on a change).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import select
import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from ...errors import StoreError
from ..port import ListenerHook
from .database import Database, Target, as_literal

log = logging.getLogger("conveyor.store.postgres")

PING_SECONDS = 10.0  # a quiet LISTEN connection is pinged this often, to notice a dead peer
RECONNECT_MAX_SECONDS = 2.0
MISSED = ("j:*", "s:0")  # after a reconnect: anything may have been announced while we were away
_KEEPALIVES: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class PgWakeup:
    """`notify()` from an app thread sends at once (one round trip); on an event loop (the
    worker's completer) it must not block, so a sender thread takes it."""

    def __init__(
        self, db: Database, target: Target, notify_sql: bytes, listen_sql: bytes, ping_sql: bytes,
        hot_path: Database | None = None, hot_session_sql: bytes | None = None,
    ) -> None:
        self._db = db
        self._hot_path = hot_path
        self._hot_session_sql = hot_session_sql
        self._target = target
        self._notify_sql = notify_sql
        self._listen_sql = listen_sql
        self._ping_sql = ping_sql
        self._pending: dict[str, None] = {}  # ordered, without duplicates
        self._earliest_due: float | None = None  # "s:" messages collapse to the earliest
        self._cond = threading.Condition()
        self._sending = False
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- sending -------------------------------------------------------------------------------

    def notify(self, message: str) -> None:
        if not _on_event_loop():  # an app thread (enqueue): send now, no hand-off to wait for
            try:
                self._db.write(self._notify_sql, {"channel": self._target.channel, "messages": [message]},
                               idempotent=True)
            except StoreError as exc:
                log.warning("wake-up not sent (%s); workers will poll", exc)
            return
        with self._cond:
            if self._closed:
                return
            if message.startswith("s:"):
                self._collapse_due(message)
            else:
                self._pending[message] = None
            if self._thread is None:
                self._thread = threading.Thread(target=self._send_loop, name="conveyor-notify", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _collapse_due(self, message: str) -> None:
        try:
            due = float(message[2:])
        except ValueError:
            self._pending[message] = None
            return
        self._earliest_due = due if self._earliest_due is None else min(self._earliest_due, due)

    def _take(self) -> list[str] | None:
        with self._cond:
            while not self._pending and self._earliest_due is None:
                if self._closed:
                    return None
                self._cond.wait()
            batch = list(self._pending)
            if self._earliest_due is not None:
                batch.append(f"s:{self._earliest_due}")
            self._pending.clear()
            self._earliest_due = None
            self._sending = True
            return batch

    def _send_loop(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._db.write(self._notify_sql, {"channel": self._target.channel, "messages": batch}, idempotent=True)
            except StoreError as exc:  # workers fall back to polling; never the caller's problem
                log.warning("wake-up not sent (%s); workers will poll", exc)
            with self._cond:
                self._sending = False
                self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message notified so far was sent; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and self._earliest_due is None and not self._sending, timeout
            )

    def close(self) -> None:
        self.flush(timeout=2.0)  # a CLI `enqueue` that exits right away still wakes the workers
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=2.0)

    # -- listening -----------------------------------------------------------------------------

    def listen(self) -> PgListener:
        return PgListener(self._target, self._listen_sql, self._ping_sql,
                          hot_path=self._hot_path, hot_session_sql=self._hot_session_sql)


class PgListener:
    """Messages NOTIFYed on the store's channel; `fileno()` is readable when some are waiting."""

    def __init__(
        self, target: Target, listen_sql: bytes, ping_sql: bytes, first_connect_timeout: float = 5.0,
        hot_path: Database | None = None, hot_session_sql: bytes | None = None,
    ) -> None:
        self._target = target
        self._hot_path = hot_path  # the hook's statements through it run on the LISTEN connection
        self._hot_session_sql = hot_session_sql  # that Database's session settings, for this connection
        self._listen = as_literal(listen_sql.decode()).format(channel=sql.Identifier(target.channel))
        self._ping = ping_sql
        self._messages: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()
        self._closed = False
        self._hook: ListenerHook | None = None
        self._hooked_session = 0  # the session the hook last heard `on_connect` for
        self._session = 0  # counts connections made
        self._held: list[str] = []  # arrived while a statement ran on the connection: delivered next
        self._ready_r, self._ready_w = os.pipe()  # readable: messages waiting (the stable fileno)
        self._stop_r, self._stop_w = os.pipe()  # readable: close() was called
        self._poke_r, self._poke_w = os.pipe()  # readable: the hook has something to do (poke())
        self._fds = (self._ready_r, self._ready_w, self._stop_r, self._stop_w, self._poke_r, self._poke_w)
        for fd in self._fds:
            os.set_blocking(fd, False)
        self.connected = threading.Event()
        self.reconnects = 0
        self._thread = threading.Thread(target=self._run, name="conveyor-listen", daemon=True)
        self._thread.start()
        # Messages sent after listen() returns must arrive: wait for the first LISTEN (if the
        # server is down, go on; the thread keeps trying and the worker polls meanwhile).
        if not self.connected.wait(first_connect_timeout):
            log.warning("LISTEN on %s not established yet; wake-ups will start once it is", target.where)

    def fileno(self) -> int:
        return self._ready_r

    def drain(self) -> list[str]:
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            while os.read(self._ready_r, 4096):
                pass
        with self._lock:
            messages = list(self._messages)
            self._messages.clear()
        return messages

    def intercept(self, hook: ListenerHook | None) -> None:
        """Let `hook` act on the listening thread (see `ListenerHook`), with the hot path's
        statements running on this connection: each batch of messages goes through its
        `on_messages` before the hand-over (an idle worker claims the announced jobs there and
        then, without waiting for its event loop). Its methods must not raise; the thread blocks
        while they run."""
        self._hook = hook
        self.poke()  # on_connect for the session already up

    def poke(self) -> None:
        """Have the listening thread call the hook's `on_poke` soon (from any thread)."""
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            os.write(self._poke_w, b"!")  # full pipe: a poke is pending already

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join(timeout=5.0)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the listening thread ------------------------------------------------------------------

    def _pinned(self, conn: psycopg.Connection[Any] | None) -> contextlib.AbstractContextManager[None]:
        """The hook's statements go to `conn` (None: between sessions, where it runs none)."""
        if self._hot_path is None or conn is None:
            return contextlib.nullcontext()
        return self._hot_path.pinned(conn)

    def _hooked(self, conn: psycopg.Connection[Any]) -> ListenerHook | None:
        """The hook, once it has heard `on_connect` for this session (None: no hook, or closed)."""
        hook = self._hook
        if hook is None or self._closed:
            return None
        if self._hooked_session != self._session:
            self._hooked_session = self._session
            try:
                with self._pinned(conn):
                    hook.on_connect()
            except Exception:
                log.exception("wake-up hook failed on connect")
        return hook

    def _deliver(self, conn: psycopg.Connection[Any], messages: list[str]) -> None:
        hook = self._hooked(conn)
        if hook is not None:
            try:
                with self._pinned(conn):
                    messages = hook.on_messages(messages)
            except Exception:  # a bug in the hook must not kill the listener: hand everything over
                log.exception("wake-up hook failed")
        if messages:
            self._push(messages)

    def _poked(self, conn: psycopg.Connection[Any] | None) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            while os.read(self._poke_r, 4096):
                pass
        hook = self._hook if conn is None else self._hooked(conn)
        if hook is None or self._closed:
            return
        try:
            with self._pinned(conn):
                hook.on_poke(conn is not None)
        except Exception:
            log.exception("wake-up hook failed on poke")

    def _disconnected(self) -> None:
        hook = self._hook
        if hook is not None:
            try:
                hook.on_disconnect()
            except Exception:
                log.exception("wake-up hook failed on disconnect")

    def _push(self, messages: list[str]) -> None:
        with self._lock:
            if self._closed:
                return
            self._messages.extend(messages)
            with contextlib.suppress(BlockingIOError, InterruptedError):
                os.write(self._ready_w, b"!")  # full pipe: it is readable already

    def _stopping(self, timeout: float) -> bool:
        """Wait `timeout` seconds between connection attempts (answering pokes meanwhile, as
        disconnected); True once close() was called."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                readable, _, _ = select.select([self._stop_r, self._poke_r], [], [],
                                               max(0.0, deadline - time.monotonic()))
            except (OSError, ValueError):  # close() gave up waiting for us and closed the pipe
                return True
            if self._stop_r in readable:
                return True
            if self._poke_r not in readable:
                return False
            self._poked(None)

    def _run(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                conn = psycopg.connect(self._target.conninfo, autocommit=True, connect_timeout=5, **_KEEPALIVES)
            except psycopg.Error as exc:
                log.debug("LISTEN connection failed (%s); retrying in %.2fs", exc, delay)
                if self._stopping(delay):
                    return
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            self._session += 1
            try:
                # What arrives while a statement runs on it (a ping, a claim) waits for the pump's
                # next turn: the hook must not run a statement on a connection in the middle of one.
                conn.add_notify_handler(lambda n: self._held.append(n.payload))
                if self._hot_session_sql is not None:
                    conn.execute(self._hot_session_sql)
                conn.execute(self._listen)
                if self.connected.is_set():
                    self.reconnects += 1
                    log.info("LISTEN connection to %s re-established", self._target.where)
                    self._deliver(conn, list(MISSED))
                self.connected.set()
                delay = 0.05
                self._pump(conn)
            except (psycopg.Error, OSError) as exc:
                log.warning("LISTEN connection to %s lost (%s); reconnecting", self._target.where,
                            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    conn.close()
                self._disconnected()

    def _pump(self, conn: psycopg.Connection[Any]) -> None:
        """Hand over notifications until close() (returns) or the connection dies (raises)."""
        pgconn = conn.pgconn
        fd = conn.fileno()
        while True:
            # Statements on this connection (a ping, the hook's claim) may leave notifications read
            # from the socket but not yet parsed: select() would not see them, so parse first.
            batch, self._held = self._held, []
            while (n := pgconn.notifies()) is not None:
                batch.append(n.extra.decode())
            if batch:
                self._deliver(conn, batch)
                continue
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                raise psycopg.OperationalError("connection closed by the server")
            readable, _, _ = select.select([fd, self._stop_r, self._poke_r], [], [], PING_SECONDS)
            if self._stop_r in readable:
                return
            if self._poke_r in readable:
                self._poked(conn)
            if fd in readable:
                pgconn.consume_input()  # raises when the server went away
            elif self._poke_r not in readable:
                conn.execute(self._ping)  # quiet for a while: is the server still there?
