"""Systems under test. Each module implements the workload functions `measure.py` calls by name.

A system is run by `python -m bench.measure <system> <workload> '<json params>'` with the
interpreter listed here, so a peer can live in its own virtual environment (issue 6).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class System:
    name: str
    module: str  # imported by bench.measure
    python: str  # the interpreter that has this system installed
    stores: tuple[str, ...]  # store kinds it runs on: "sqlite", "postgres", "redis", …


SYSTEMS: dict[str, System] = {
    "conveyor": System("conveyor", "bench.systems.conveyor", sys.executable, ("sqlite", "postgres")),
}
