"""Commands that inspect and steer jobs: enqueue, status, jobs, stats, cancel, retry, purge."""

from __future__ import annotations

COMMANDS: list = []  # type: ignore[type-arg]
