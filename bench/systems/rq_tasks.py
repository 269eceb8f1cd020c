"""RQ's job function for the benchmark (imported by the worker by its dotted name)."""

from __future__ import annotations

from bench.systems._peer import stamp


def noop(i: int) -> None:
    stamp(i)


def cpu(i: int) -> None:
    from bench.systems._cpu import burn
    from bench.systems._peer import stamp_end

    stamp(i)
    burn()
    stamp_end(i)


def fanin() -> None:
    from bench.systems._peer import FANIN

    stamp(FANIN)
