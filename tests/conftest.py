"""Shared fixtures: real SQLite files in a temp dir, the real PostgreSQL server, app factories."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.examples import register_examples
from conveyor.settings import Settings

PG_URL = os.environ.get("CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent


def postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # any failure means: not usable here
        return f"PostgreSQL at {PG_URL} unreachable: {exc}".splitlines()[0]


_PG_REASON: list[str | None] = []


def require_postgres() -> str:
    """The PostgreSQL URL, or skip (fail under CI=true) when the server is unreachable."""
    if not _PG_REASON:
        _PG_REASON.append(postgres_reachable())
    reason = _PG_REASON[0]
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'conveyor.db'}"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[object]:
    """Build apps on one temp SQLite file (or a given URL); all closed at teardown."""
    apps: list[Conveyor] = []

    def factory(url: str | None = None, examples: bool = True, **settings: object) -> Conveyor:
        base = Settings(database_url=url or f"sqlite:///{tmp_path / 'conveyor.db'}", **settings)  # type: ignore[arg-type]
        app = Conveyor(settings=base)
        if examples:
            register_examples(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@pytest.fixture
def unique_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def python_env() -> dict[str, str]:
    """Environment for subprocesses: this interpreter, the repo on the path, tests importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("CONVEYOR_DATABASE_URL", None)
    return env


PYTHON = sys.executable
