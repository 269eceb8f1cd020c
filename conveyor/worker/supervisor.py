"""`--processes N`: starts N worker processes, restarts any that die, forwards SIGTERM/SIGINT.

Children are forked from the supervisor once it has loaded the app (as Sidekiq's swarm and
Celery's prefork pool do): a child starts in milliseconds instead of importing everything again
(about half a second, and when N start at once on few cores their imports slow each other and
the first ones' work), and shares the loaded code copy-on-write. The supervisor forks only while
it holds no connection and runs no thread; where fork is missing, each child is a fresh
`python -m conveyor worker`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Protocol

from ..settings import Settings, env_var

log = logging.getLogger("conveyor.supervisor")


def child_env(settings: Settings, app_spec: str | None, base: Mapping[str, str]) -> dict[str, str]:
    """The resolved settings as CONVEYOR_* variables, so every child sees exactly the parent's."""
    env = dict(base)
    for name, value in settings.model_dump().items():
        if value is None:
            env.pop(env_var(name), None)
        elif isinstance(value, tuple | list):
            env[env_var(name)] = ",".join(value)
        else:
            env[env_var(name)] = str(value)
    env[env_var("processes")] = "1"
    if app_spec:
        env["CONVEYOR_APP"] = app_spec
    return env


class Child(Protocol):
    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def send_signal(self, sig: int) -> None: ...


class Forked:
    """A child made with os.fork(): subprocess.Popen's poll and send_signal, for a bare pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def fork_child(run: Callable[[], int]) -> Forked:
    """Fork; the child runs `run` with the default signal handlers and exits with its code,
    never returning into the supervisor's code."""
    # Signals wait until the child has dropped the supervisor's handlers (which would signal
    # the supervisor's children, the child's siblings).
    stopping = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)
        return Forked(pid)
    code = 1
    try:
        for sig in stopping:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stopping)
        code = run()
    except BaseException:  # the child's last word: a crash is reported, then the supervisor restarts it
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Supervisor:
    def __init__(
        self, settings: Settings, app_spec: str | None, extra_args: list[str] | None = None,
        run_child: Callable[[], int] | None = None,
    ) -> None:
        """`run_child`: what a forked child runs (the app's worker), where fork exists; else each
        child is a fresh interpreter (`extra_args` to its `conveyor worker`)."""
        self.settings = settings
        self.env = child_env(settings, app_spec, os.environ)
        self.command = [sys.executable, "-m", "conveyor", "worker", *(extra_args or [])]
        self.run_child = run_child if hasattr(os, "fork") else None
        self.children: list[Child | None] = [None] * settings.processes
        self.restarts = [0] * settings.processes
        self.stopping = False

    def _spawn(self, slot: int) -> None:
        child: Child = fork_child(self.run_child) if self.run_child else subprocess.Popen(self.command, env=self.env)
        self.children[slot] = child
        log.info("started worker process %d (pid %d)", slot, child.pid)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        first = not self.stopping
        self.stopping = True
        for child in self.children:
            if child is not None and child.poll() is None:
                child.send_signal(signum if first else signal.SIGTERM)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in range(len(self.children)):
            self._spawn(slot)
        next_start: dict[int, float] = {}
        while True:
            alive = 0
            for slot, child in enumerate(self.children):
                if child is None:
                    continue
                code = child.poll()
                if code is None:
                    alive += 1
                    continue
                if self.stopping:
                    continue
                # Died under us (killed, crashed): restart with a growing pause if it keeps dying.
                self.restarts[slot] += 1
                pause = min(30.0, 0.5 * 2 ** min(self.restarts[slot] - 1, 6))
                log.warning(
                    "worker process %d (pid %d) exited with %s; restarting in %.1fs", slot, child.pid, code, pause
                )
                self.children[slot] = None
                next_start[slot] = time.monotonic() + pause
            for slot, when in list(next_start.items()):
                if not self.stopping and time.monotonic() >= when:
                    del next_start[slot]
                    self._spawn(slot)
                    alive += 1
            if self.stopping and alive == 0:
                break
            time.sleep(0.05)
        codes = [c.returncode for c in self.children if c is not None]
        return 0 if all(code == 0 for code in codes) else 1
