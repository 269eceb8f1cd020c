"""The stores a scenario runs on: a SQLite file in the run's folder, or a PostgreSQL schema of its
own (dropped afterwards), plus the one way to restart the PostgreSQL server mid-run."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE = "sqlite"
POSTGRES = "postgresql"


def postgres_base_url() -> str:
    return os.environ.get("CONVEYOR_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def postgres_unreachable(base: str) -> str | None:
    """None if PostgreSQL answers at `base`, else the one-line reason it does not."""
    try:
        with psycopg.connect(base, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {base} unreachable: {str(exc).strip().splitlines()[0]}"
    return None


@dataclass(frozen=True, slots=True)
class StoreTarget:
    kind: str  # SQLITE or POSTGRES
    url: str

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == SQLITE else "PostgreSQL"


@contextlib.contextmanager
def sqlite_store(folder: Path, name: str = "chaos.db") -> Iterator[StoreTarget]:
    yield StoreTarget(SQLITE, f"sqlite:///{folder / name}")


@contextlib.contextmanager
def postgres_store(base: str) -> Iterator[StoreTarget]:
    """A fresh schema (created by the first migrate) that only this run uses; dropped on exit.
    Its connections carry the schema as application_name, so the drop can end stray ones."""
    schema = f"chaos_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in base else "?"
    try:
        yield StoreTarget(POSTGRES, f"{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}")
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s AND pid <> pg_backend_pid()", (schema,))
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def restart_command(base: str) -> tuple[list[str] | None, str]:
    """How to restart the server behind `base`: $CHAOS_PG_RESTART_CMD, else the Debian cluster
    (pg_lsclusters) listening on its port. Returns (command, description) or (None, why not)."""
    explicit = os.environ.get("CHAOS_PG_RESTART_CMD")
    if explicit:
        return shlex.split(explicit), explicit
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return None, "no pg_ctlcluster here; set CHAOS_PG_RESTART_CMD to a command that restarts the server"
    port = str(urlsplit(base).port or 5432)
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == port:
            command = ["pg_ctlcluster", "--skip-systemctl-redirect", parts[0], parts[1], "restart"]
            return command, " ".join(command)
    return None, f"no local cluster listens on port {port}; set CHAOS_PG_RESTART_CMD"


@dataclass(frozen=True, slots=True)
class Restart:
    started: float  # time.monotonic()
    ended: float
    ok: bool
    detail: str


def restart_postgres(command: list[str], base: str, timeout: float = 60.0) -> Restart:
    """Run the restart command and wait (with a deadline) until the server answers again."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return Restart(started, time.monotonic(), False, f"exit {done.returncode}: {reason[-1] if reason else ''}")
    deadline = started + timeout
    while postgres_unreachable(base) is not None:
        if time.monotonic() > deadline:
            return Restart(started, time.monotonic(), False, f"server not back within {timeout:g}s")
        time.sleep(0.1)
    return Restart(started, time.monotonic(), True, "restarted")
