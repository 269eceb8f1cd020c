"""A real worker running in a background thread of the test process, on the test's store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.settings import Settings
from conveyor.worker import Worker
from tests.conftest import require_postgres
from tests.postgres_helpers import fresh_schema


@contextmanager
def running_worker(app: Conveyor, **overrides: Any) -> Iterator[Worker]:
    settings = app.settings.merged(**overrides)
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def main() -> None:
        async def run() -> None:
            worker = Worker(app, settings)
            holder["worker"], holder["loop"] = worker, asyncio.get_running_loop()
            task = asyncio.create_task(worker.run(install_signals=False))
            await worker.started.wait()
            ready.set()
            await task

        try:
            asyncio.run(run())
        except BaseException as exc:  # surfaced to the test below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(10), "worker did not start"
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["worker"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["worker"].stop)
        thread.join(30)
        assert not thread.is_alive(), "worker did not stop"
        if "error" in holder:
            raise holder["error"]


@pytest.fixture
def worker_factory() -> Callable[..., Any]:
    return running_worker


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards."""
    with fresh_schema(require_postgres(), "it") as url:
        yield url


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[Conveyor]:
    """An open app on `pg_url`, its fallback poll slowed to 30 s (a lost wake-up shows as a timeout)."""
    app = Conveyor(settings=Settings(database_url=pg_url, poll_interval=30.0))
    app.open()
    yield app
    app.close()
