"""A real API server (uvicorn on a free port, in a thread or a subprocess), keys of every scope,
and worker subprocesses: the API tests speak real HTTP to real processes."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.apikeys import ApiKeys, Scope
from tests.conftest import PYTHON, python_env
from tests.helpers import wait_for

EXAMPLES = "conveyor.examples:create_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_keys(app: Conveyor) -> dict[str, str]:
    """One key per scope, named after it: {"read": "cvk_…", "write": …, "admin": …}."""
    keys = ApiKeys(app)
    return {scope.value: keys.create(f"test-{scope.value}", scope)[1] for scope in Scope}


class ThreadedServer:
    """uvicorn serving `create_api(app)` on a free port in a background thread."""

    def __init__(self, app: Conveyor, **api_options: Any) -> None:
        self.api = create_api(app, **api_options)
        self.port = free_port()
        config = uvicorn.Config(self.api, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadedServer:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 20, what="uvicorn to start")
        assert self.server.started, "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.api.state.hub.close()
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@dataclass
class Api:
    base_url: str
    app: Conveyor
    keys: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    def headers(self, scope: str | None = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}

    def client(self, scope: str | None = "admin", **kwargs: Any) -> httpx.Client:
        headers = {**self.headers(scope), **kwargs.pop("headers", {})}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """The store of `api` and `worker`: a temp SQLite file (a test module may override this fixture,
    e.g. with `tests.postgres_helpers.STORES`, to run on PostgreSQL too)."""
    return sqlite_url


@pytest.fixture
def api(make_app: Callable[..., Conveyor], store_url: str) -> Iterator[Api]:
    """The API (example handlers) on `store_url`, live-event polls every 50 ms."""
    app = make_app(store_url)
    server = ThreadedServer(app, events_interval=0.05).start()
    handle = Api(server.base_url, app, make_keys(app))
    yield handle
    for client in handle.clients:
        client.close()
    server.stop()


class Process:
    """A `python -m conveyor …` subprocess with its output in a file; stopped at teardown."""

    def __init__(self, args: list[str], log_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
        full_env = python_env()
        full_env.update(env or {})
        self.proc = subprocess.Popen([PYTHON, "-m", "conveyor", *args], cwd=cwd, env=full_env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Process:
        process = Process(list(args), tmp_path / f"proc-{len(started)}.log", cwd=cwd, env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def worker(spawn: Callable[..., Process], store_url: str) -> Process:
    """A worker in another process, serving the example handlers from the API's store."""
    return spawn("worker", "--db", store_url, "--app", EXAMPLES, "--concurrency", "20")
