"""`--processes N`: starts N worker processes, restarts any that die, forwards SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from types import FrameType

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


class Supervisor:
    def __init__(self, settings: Settings, app_spec: str | None, extra_args: list[str] | None = None) -> None:
        self.settings = settings
        self.env = child_env(settings, app_spec, os.environ)
        self.command = [sys.executable, "-m", "conveyor", "worker", *(extra_args or [])]
        self.children: list[subprocess.Popen[bytes] | None] = [None] * settings.processes
        self.restarts = [0] * settings.processes
        self.stopping = False

    def _spawn(self, slot: int) -> None:
        self.children[slot] = subprocess.Popen(self.command, env=self.env)
        log.info("started worker process %d (pid %d)", slot, self.children[slot].pid)  # type: ignore[union-attr]

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
