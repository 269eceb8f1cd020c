"""The running system behind `serve` and `up`: uvicorn and workers in one event loop.
Imported only by those commands, so the rest of the CLI starts without FastAPI and uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from ..api import create_api
from ..app import Conveyor
from ..worker.lifecycle import Worker
from ..worker.supervisor import child_env
from .common import fail

log = logging.getLogger("conveyor.server")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `run_system` stops it with everything else."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class System:
    """The API server, an optional in-process worker and optional worker subprocesses, stopped
    together: the first SIGTERM/SIGINT is graceful, a second one stops at once."""

    def __init__(self, app: Conveyor, *, worker: bool, extra_processes: int = 0, app_spec: str | None = None) -> None:
        self.app = app
        self.api = create_api(app)
        config = uvicorn.Config(self.api, host=app.settings.host, port=app.settings.port, log_config=None,
                                access_log=False, timeout_graceful_shutdown=5, lifespan="on")
        self.server = _Server(config)
        self.worker = Worker(app) if worker else None
        self.extra_processes = extra_processes
        self.app_spec = app_spec
        self.child: subprocess.Popen[bytes] | None = None
        self._signals = 0

    def url(self) -> str:
        port = self.app.settings.port
        for server in self.server.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
        host = self.app.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
        return f"http://{shown}:{port}"

    def stop(self, hard: bool = False) -> None:
        self.api.state.hub.close()  # ends open event streams so the server can finish
        self.server.should_exit = True
        self.server.force_exit = self.server.force_exit or hard
        if self.worker is not None:
            self.worker.stop(hard=hard)
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        log.info("received %s; %s", signal.Signals(sig).name, "stopping now" if self._signals > 1 else "shutting down")
        self.stop(hard=self._signals > 1)

    async def run(self, announce: Any = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        serving = loop.create_task(self._serve())
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.02)
        if serving.done():
            with contextlib.suppress(BaseException):
                serving.result()
            raise fail(f"cannot serve on {self.app.settings.host}:{self.app.settings.port} (see the log above)")
        tasks: list[asyncio.Task[Any]] = [serving]
        if self.worker is not None:
            tasks.append(loop.create_task(self.worker.run(install_signals=False)))
        if self.extra_processes > 0:
            self.child = self._spawn_workers()
            child = self.child
            tasks.append(loop.create_task(asyncio.to_thread(child.wait)))
        if announce is not None:
            announce(self)
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if self._signals == 0:  # one part ended on its own: stop the others
            log.warning("a part of the system stopped; stopping the rest")
            self.stop()
        await asyncio.gather(*pending, return_exceptions=True)
        failed = [t for t in tasks if t.exception() is not None]
        return 1 if failed or (self.child is not None and self.child.returncode not in (0, None)) else 0

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot start (port busy, …)
            raise RuntimeError(f"the HTTP server stopped (code {exc.code})") from None

    def _spawn_workers(self) -> subprocess.Popen[bytes]:
        env = child_env(self.app.settings, self.app_spec, os.environ)
        command = [sys.executable, "-m", "conveyor", "worker", "--processes", str(self.extra_processes)]
        return subprocess.Popen(command, env=env)
