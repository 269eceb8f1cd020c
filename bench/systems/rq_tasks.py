"""RQ's job function for the benchmark (imported by the worker by its dotted name)."""

from __future__ import annotations

from bench.systems._peer import stamp


def noop(i: int) -> None:
    stamp(i)
