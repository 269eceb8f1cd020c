"""Run the real `python -m conveyor` against a temp SQLite file, and start real worker processes."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.job import Job
from tests.conftest import PYTHON, python_env

COMMAND_TIMEOUT = 30.0


@dataclass
class Cli:
    """Runs `conveyor <args> --db <url>` as a subprocess; `url=None` leaves `--db` off."""

    url: str | None
    cwd: Path
    app: str | None = None  # --app module:attr, else the default (the example handlers)

    def argv(self, *args: str) -> list[str]:
        options = [*(["--db", self.url] if self.url else []), *(["--app", self.app] if self.app else [])]
        return [PYTHON, "-m", "conveyor", *args, *options]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), cwd=self.cwd, env=python_env(), capture_output=True, text=True, timeout=timeout,
            check=False,
        )

    def run_many(
        self, commands: list[list[str]], timeout: float = COMMAND_TIMEOUT
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands side by side (each is mostly interpreter start-up)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda args: self.run(*args, timeout=timeout), commands))

    def start(self, *args: str) -> LineReader:
        """Start a command and read its stdout line by line as it comes."""
        proc = subprocess.Popen(
            self.argv(*args), cwd=self.cwd, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        return LineReader(proc)

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, f"conveyor {' '.join(args)} exited {result.returncode}: {result.stderr}"
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def enqueue(self, *args: str) -> str:
        out = self.ok("enqueue", *args).stdout
        job_id = out.strip().splitlines()[-1]
        assert len(job_id) == 36, out
        return job_id

    def wait_until(self, job_id: str, done: Callable[[Job], bool], timeout: float = 30.0) -> Job:
        """Poll the job (read in this process: cheap) until `done(job)`; fail after `timeout` seconds."""
        assert self.url is not None
        with Conveyor(self.url) as app:
            app.open(create=False)
            deadline = time.monotonic() + timeout
            while True:
                job = app.get(job_id)
                if done(job):
                    return job
                if time.monotonic() > deadline:
                    pytest.fail(f"job {job_id} still {job.status.value} after {timeout}s")
                time.sleep(0.02)

    def wait_finished(self, job_id: str, timeout: float = 30.0) -> Job:
        return self.wait_until(job_id, lambda job: job.status.is_terminal, timeout)


class LineReader:
    """A running command whose stdout lines a thread collects, so a test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """The first stdout line containing `text`; fails after `timeout` seconds or at EOF."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if self._done or remaining <= 0:
                    pytest.fail(f"no line with {text!r} in {self.lines}")
                self._changed.wait(remaining)

    def finish(self, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str, str]:
        """Wait for the exit: (exit code, all stdout, stderr)."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._thread.join(timeout)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, "\n".join(self.lines), err


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.db"


@pytest.fixture
def cli(tmp_path: Path, db_path: Path) -> Cli:
    return Cli(f"sqlite:///{db_path}", tmp_path)


class WorkerProcess:
    def __init__(self, cli: Cli, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        argv = cli.argv("worker", "--concurrency", "4", "--shutdown-grace-seconds", "5")
        self.proc = subprocess.Popen(argv, cwd=cli.cwd, env=python_env(), stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: the worker's exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def start_worker(tmp_path: Path, cli: Cli) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `conveyor worker` subprocesses on the test database; any left running are killed."""
    workers: list[WorkerProcess] = []

    def start(app: str | None = None) -> WorkerProcess:
        # Create the database first: processes racing to create a fresh SQLite file can fail
        # with "database is locked" (a core bug, reported), and that race is not what we test.
        cli.ok("migrate")
        worker = WorkerProcess(Cli(cli.url, cli.cwd, app), tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()


def file_state(path: Path) -> str | None:
    """The file's SHA-256, or None when it does not exist."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def folder_listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """Exactly one stderr line, starting with "Error", no traceback, a non-zero exit."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {result.stderr!r}"
    assert lines[0].startswith("Error"), lines[0]
    assert result.returncode != 0, result
    if exit_code is not None:
        assert result.returncode == exit_code, (result.returncode, lines[0])
    return lines[0]
