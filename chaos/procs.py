"""Real `conveyor` subprocesses (workers, the API server, one-shot commands) and deadline waits."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
APP = "chaos.app:create_app"
T = TypeVar("T")


class ChaosTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy; raise `ChaosTimeout` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ChaosTimeout(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def conveyor_env(chaos_dir: Path) -> dict[str, str]:
    """This interpreter's environment with the repository importable and no inherited store URL."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["CHAOS_DIR"] = str(chaos_dir)
    env["PYTHONUNBUFFERED"] = "1"
    for name in ("CONVEYOR_DATABASE_URL", "CONVEYOR_APP", "CONVEYOR_PROCESSES"):
        env.pop(name, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ConveyorProcess:
    """One `python -m conveyor <args>` subprocess, its output in a log file under `chaos_dir`."""

    def __init__(
        self, chaos_dir: Path, name: str, args: list[str], preexec: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self.log_path = chaos_dir / "logs" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()/reap()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "conveyor", *args], env=conveyor_env(chaos_dir), cwd=ROOT,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec,
        )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        """SIGKILL, and reap it so the pid is not reused under us while we still count it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()
        return self.proc.returncode


def worker_args(db_url: str, lease_seconds: float, concurrency: int, max_crashes: int = 3) -> list[str]:
    return ["worker", "--db", db_url, "--app", APP, "--lease-seconds", f"{lease_seconds:g}",
            "--concurrency", str(concurrency), "--max-crashes", str(max_crashes)]


def run_cli(
    chaos_dir: Path, args: list[str], timeout: float = 60.0, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one `conveyor` command to completion (stdout and stderr captured)."""
    return subprocess.run(
        [PYTHON, "-m", "conveyor", *args], env=conveyor_env(chaos_dir), cwd=ROOT,
        capture_output=True, text=True, timeout=timeout, check=False, preexec_fn=preexec,
    )
