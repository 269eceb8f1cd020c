"""The PostgreSQL connection side: URL → target, the connection pool, and one way to run SQL.

`Database.run` is the only place that talks to the pool: it drops pooled connections that died
while idle (a server restart closes them all), retries what is safe to repeat, and turns every
psycopg error into a `StoreError` with a one-line reason.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import re
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import psycopg
import psycopg.errors
from psycopg import Connection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from ...errors import StoreError
from ..queries import load_queries

log = logging.getLogger("conveyor.store.postgres")

T = TypeVar("T")
Params: TypeAlias = dict[str, Any] | None
Step: TypeAlias = tuple[bytes, Params]

Q = {name: text.encode() for name, text in load_queries(__package__ or "conveyor.store.postgres").items()}
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*(\S+)")
CHANNEL_PREFIX = "conveyor"
_MAX_IDENTIFIER = 63


@dataclass(frozen=True, slots=True)
class Target:
    """Where the store lives: the libpq conninfo, the schema its search_path selects (if the URL
    names one), a password-free description for messages, and the NOTIFY channel."""

    conninfo: str
    schema: str | None
    where: str
    channel: str


def parse_postgres_url(url: str) -> Target:
    """`postgresql://user@host:5432/db`, optionally `?options=-csearch_path%3Dmyschema` to keep
    Conveyor's tables in their own schema (created by `migrate()` if missing)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"invalid PostgreSQL URL: {_first_line(exc)}") from None
    host = str(info.get("host") or info.get("hostaddr") or "localhost")
    where = f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"
    schema = None
    match = _SEARCH_PATH.search(str(info.get("options") or ""))
    if match:
        first = match.group(1).split(",")[0].strip().strip('"')
        schema = first if first and first != "$user" else None
    return Target(conninfo=url, schema=schema, where=where, channel=channel_name(schema))


def channel_name(schema: str | None) -> str:
    """One NOTIFY channel per schema, so stores sharing a database do not wake each other."""
    if not schema:
        return CHANNEL_PREFIX
    name = f"{CHANNEL_PREFIX}_{schema}"
    if len(name.encode()) > _MAX_IDENTIFIER:  # the server would truncate it: keep it unique
        name = f"{CHANNEL_PREFIX}_{hashlib.sha1(schema.encode()).hexdigest()[:32]}"
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def as_literal(text: str) -> sql.SQL:
    """Wrap SQL loaded from a package file (never user input) for psycopg's composition API."""
    return sql.SQL(text)


def _is_stale(conn: Connection[Any]) -> bool:
    """An idle pooled connection has nothing to read, unless the server closed it (a restart,
    an admin kill): then it is readable. One non-blocking poll instead of a round trip."""
    if conn.closed or conn.broken:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    try:
        conn.execute(Q["ping"])  # consumes whatever it was; raises if the connection is dead
    except psycopg.Error:
        return True
    return False


class _LifoPool(ConnectionPool[Connection[Any]]):
    """Hands out the most recently returned idle connection (psycopg_pool's own choice is the
    least recent), like PgBouncer's default: a server process that just ran a statement answers
    the next one a little sooner than one that slept (the NOTIFY right after an enqueue's INSERT:
    about 0.03-0.06 ms of a 0.2 ms round trip on the development VM). Idle connections beyond
    min_size also age out as the pool intends, as the least recent ones stay unused."""

    def _get_ready_connection(self, timeout: float | None) -> Connection[Any] | None:
        idle = getattr(self, "_pool", None)  # the idle deque: taken from the left, returned to the right
        if isinstance(idle, collections.deque) and len(idle) > 1:
            idle.rotate(1)  # under the pool's lock, like the parent's popleft
        return super()._get_ready_connection(timeout)


def _relax(conn: Connection[Any]) -> None:
    conn.execute(Q["relaxed_session"])


def _safe_to_repeat(exc: psycopg.Error) -> bool:
    """Deadlocks and serialization failures roll the transaction back: running it again is safe."""
    return isinstance(exc, psycopg.errors.TransactionRollback)


class Database:
    """A connection pool plus `run`, which all store operations go through.

    `relaxed`: the worker's hot path (queries/relaxed_session.sql): commits with
    `synchronous_commit = off`, for writes that may be lost in a server crash without harm (a
    claim, a heartbeat, progress: the job is simply claimed or rescued again; delivery is
    at-least-once anyway) — skipping the WAL flush, most of a commit's latency on an ordinary
    disk — and plain index scans. Enqueues use the durable pool; outcomes run on the relaxed one
    for its plans, in a transaction that switches the WAL flush back on (durable_commit.sql)."""

    def __init__(
        self, target: Target, *, relaxed: bool = False, probe: bool = True, timeout: float = 10.0, max_size: int = 8
    ) -> None:
        self.target = target
        self.timeout = timeout
        self._pinned = threading.local()  # .conn: this thread's own connection, see `pinned`
        if probe:
            self._probe()
        self.pool = _LifoPool(
            target.conninfo,
            kwargs={"autocommit": True},
            configure=_relax if relaxed else None,
            min_size=0 if relaxed else 1,
            max_size=max_size,
            timeout=timeout,
            num_workers=1,
            name=f"conveyor {target.where}{' relaxed' if relaxed else ''}",
            open=True,
        )

    def _probe(self) -> None:
        """Fail fast, with the server's reason, when PostgreSQL cannot be reached at all."""
        reason = self.unreachable_reason()
        if reason is not None:
            raise StoreError(f"PostgreSQL at {self.target.where} unreachable: {reason}")

    def unreachable_reason(self, timeout: int = 5) -> str | None:
        try:
            with psycopg.connect(self.target.conninfo, connect_timeout=timeout) as conn:
                conn.execute(Q["ping"])
        except psycopg.Error as exc:
            return _first_line(exc)
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pool.close(timeout=5)

    # -- running SQL ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def pinned(self, conn: Connection[Any]) -> Iterator[None]:
        """Within this block, statements this thread runs through this Database go to `conn`
        (autocommit, owned and watched by the caller) instead of the pool: the LISTEN thread
        claims on its own connection, whose server process has just woken to send the wake-up
        and which needs no pool checkout. Failures are not retried there: they raise."""
        self._pinned.conn = conn
        try:
            yield
        finally:
            self._pinned.conn = None

    def _getconn(self, deadline: float) -> Connection[Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolTimeout(f"no connection within {self.timeout:.0f}s")
            conn = self.pool.getconn(timeout=remaining)
            if not _is_stale(conn):
                return conn
            log.info("dropping a pooled PostgreSQL connection the server closed")
            with contextlib.suppress(Exception):
                conn.close()
            self.pool.putconn(conn)  # discarded; the pool opens a replacement

    def run(self, fn: Callable[[Connection[Any]], T], *, idempotent: bool = False) -> T:
        """Run `fn` on a pooled connection (autocommit: one statement is one transaction; use
        `pipelined` for several). Retries deadlocks, and connection failures when `idempotent`
        (a write whose COMMIT may or may not have happened must not be blindly repeated)."""
        pinned: Connection[Any] | None = getattr(self._pinned, "conn", None)
        if pinned is not None:
            try:
                return fn(pinned)
            except psycopg.Error as exc:
                raise self._store_error(exc, pinned.closed or pinned.broken) from exc
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                conn = self._getconn(deadline)
            except PoolTimeout:
                reason = self.unreachable_reason(timeout=2) or f"no connection within {self.timeout:.0f}s"
                raise StoreError(f"PostgreSQL at {self.target.where} unreachable: {reason}") from None
            try:
                return fn(conn)
            except psycopg.Error as exc:
                lost = conn.closed or conn.broken
                retry = _safe_to_repeat(exc) or (lost and idempotent)
                if not retry or attempt >= 5 or time.monotonic() >= deadline:
                    raise self._store_error(exc, lost) from exc
                log.info("retrying after %s", _first_line(exc))
            finally:
                self.pool.putconn(conn)

    def _store_error(self, exc: psycopg.Error, lost: bool) -> StoreError:
        if lost:
            return StoreError(f"PostgreSQL at {self.target.where}: connection lost ({_first_line(exc)})")
        return StoreError(f"PostgreSQL at {self.target.where}: {_first_line(exc)}")

    def rows(self, query: bytes, params: Params = None) -> list[tuple[Any, ...]]:
        """One read statement's rows (safe to retry)."""
        return self.run(lambda conn: conn.execute(query, params).fetchall(), idempotent=True)

    def write(self, query: bytes, params: Params = None, *, idempotent: bool = False) -> int:
        """One write statement (its own transaction); returns the row count."""
        return self.run(lambda conn: conn.execute(query, params).rowcount, idempotent=idempotent)

    def returning(self, query: bytes, params: Params = None, *, idempotent: bool = False) -> list[tuple[Any, ...]]:
        """One write statement with RETURNING; returns its rows."""
        return self.run(lambda conn: conn.execute(query, params).fetchall(), idempotent=idempotent)

    def pipelined(
        self, steps: Sequence[Step], *, transaction: bool = True, idempotent: bool = False
    ) -> list[psycopg.Cursor[Any]]:
        """Several statements sent at once (one round trip), in one transaction by default;
        returns their cursors, whose rows and row counts are ready."""
        return self.run(lambda conn: run_pipelined(conn, steps, transaction), idempotent=idempotent)


def run_pipelined(conn: Connection[Any], steps: Sequence[Step], transaction: bool) -> list[psycopg.Cursor[Any]]:
    cursors: list[psycopg.Cursor[Any]] = []
    with conn.pipeline():
        if transaction:
            with conn.transaction():
                cursors = [conn.execute(query, params) for query, params in steps]
        else:
            cursors = [conn.execute(query, params) for query, params in steps]
    return cursors
