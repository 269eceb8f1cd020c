"""Fresh stores for each run: a new SQLite file in the work folder, or a new PostgreSQL database.

The benchmark may run DDL here (CREATE/DROP DATABASE): it is a tool, not the package.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class Stores:
    """Hands out store URLs of one kind; `fresh()` for a run, `kept()` for a reused fixture.

    Redis: every fresh store is the one database of `--redis` (each peer flushes it at the start
    of a run); a kept fixture (W4's 1M backlog) gets a database of its own, the next numbers after
    it, one per fixture over all Redis peers, flushed by `close()`."""

    _redis_dbs_used = 0  # across every Stores of the run: each kept fixture needs its own database

    def __init__(self, kind: str, workdir: Path, postgres_url: str | None = None, redis_url: str | None = None) -> None:
        self.kind = kind
        self.workdir = workdir
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self._kept: dict[str, str] = {}

    @contextlib.contextmanager
    def fresh(self) -> Iterator[str]:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        url = self._create(name)
        try:
            yield url
        finally:
            self._drop(name)

    def kept(self, name: str) -> tuple[str, bool]:
        """A store that lives until `close()`: (url, created now)."""
        if name in self._kept:
            return self._kept[name], False
        if self.kind == "redis":
            assert self.redis_url is not None
            parts = urlsplit(self.redis_url)
            Stores._redis_dbs_used += 1
            db = int(parts.path.lstrip("/") or 0) + Stores._redis_dbs_used
            if db > 15:
                raise RuntimeError(f"no Redis database left for fixture {name} (a default server has 16)")
            url = urlunsplit(parts._replace(path=f"/{db}"))
            self._kept[name] = url
            return url, True
        url = self._create(f"bench_kept_{name}_{uuid.uuid4().hex[:6]}")
        self._kept[name] = url
        return url, True

    def close(self) -> None:
        for url in self._kept.values():
            if self.kind == "redis":
                redis_flush(url)
            else:
                self._drop(self._name_of(url))
        self._kept.clear()

    def _name_of(self, url: str) -> str:
        if self.kind == "sqlite":
            return Path(url.removeprefix("sqlite:///")).stem
        return urlsplit(url).path.lstrip("/")

    def _create(self, name: str) -> str:
        if self.kind == "redis":  # one database, flushed by the peer at the start of each run
            assert self.redis_url is not None
            return self.redis_url
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        assert self.postgres_url is not None
        with _admin(self.postgres_url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(urlsplit(self.postgres_url)._replace(path="/" + name))

    def _drop(self, name: str) -> None:
        if self.kind == "redis":
            return
        if self.kind == "sqlite":
            for path in glob.glob(str(self.workdir / (name + ".db")) + "*"):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            return
        assert self.postgres_url is not None
        with contextlib.suppress(Exception), _admin(self.postgres_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _admin(url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        yield conn


def redis_flush(url: str) -> None:
    """FLUSHDB of the database in `url` (a bare socket: no Redis client in this environment)."""
    import socket

    parts = urlsplit(url)
    db = parts.path.lstrip("/") or "0"
    with contextlib.suppress(OSError), socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=30) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk


def redis_problem(url: str) -> str | None:
    """None if a Redis server answers PING at `url` (checked with a bare socket: no client here)."""
    import socket

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"Redis at {url} is not reachable ({exc})"
    return None if reply.startswith(b"+PONG") else f"Redis at {url} answered {reply!r}"


def postgres_problem(url: str, conveyor: bool = True) -> str | None:
    """None if the system can run on PostgreSQL at `url`, else why not (the rows are skipped).
    For a peer (`conveyor=False`) only the server and CREATEDB are checked."""
    if not conveyor:
        try:
            import psycopg

            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                name = f"bench_probe_{uuid.uuid4().hex[:8]}"
                conn.execute(f'CREATE DATABASE "{name}"')
                conn.execute(f'DROP DATABASE "{name}"')
        except Exception as exc:
            return f"PostgreSQL at {url} is not usable for the benchmark: {str(exc).splitlines()[0]}"
        return None
    try:
        importlib.import_module("conveyor.store.postgres.store")
    except ImportError as exc:
        return f"Conveyor's PostgreSQL store is not importable yet ({exc})"
    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            name = f"bench_probe_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            from conveyor.store import open_store

            store = open_store(urlunsplit(urlsplit(url)._replace(path="/" + name)))
            try:
                store.migrate()
            finally:
                store.close()
        finally:
            with _admin(url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:
        return f"PostgreSQL at {url} is not usable for the benchmark: {str(exc).splitlines()[0]}"
    return None
