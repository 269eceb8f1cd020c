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
    """Hands out store URLs of one kind; `fresh()` for a run, `kept()` for a reused fixture."""

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
        url = self._create(f"bench_kept_{name}_{uuid.uuid4().hex[:6]}")
        self._kept[name] = url
        return url, True

    def close(self) -> None:
        for url in self._kept.values():
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
