"""Fleet-wide limits, decided inside a claim transaction: concurrency per queue or job type,
rate limits (token buckets), and paused queues. Pure logic; each store feeds it rows."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

Key = tuple[str, str]  # (scope, key): ("queue", "gpu") or ("job_type", "transcribe")


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    key: str
    max_running: int | None
    rate_count: int | None
    rate_period: float | None
    tokens: float
    tokens_at: float
    paused: bool

    @property
    def burst(self) -> float:
        # A tenth of the period's allowance (at least one job): smooth, yet batch-claimable.
        return max(1.0, (self.rate_count or 0) / 10)

    def tokens_at_time(self, now: float) -> float:
        if not self.rate_count or not self.rate_period:
            return math.inf
        rate = self.rate_count / self.rate_period
        return min(self.burst, self.tokens + max(0.0, now - self.tokens_at) * rate)


class Budget:
    """How many more jobs of each limited key this claim may start."""

    def __init__(self, limits: Iterable[Limit], running: dict[Key, int], now: float) -> None:
        self.limits = {(lim.scope, lim.key): lim for lim in limits}
        self.now = now
        self.room: dict[Key, float] = {}
        self.tokens: dict[Key, float] = {}
        for key, lim in self.limits.items():
            tokens = lim.tokens_at_time(now)
            self.tokens[key] = tokens
            room = math.inf if lim.max_running is None else max(0, lim.max_running - running.get(key, 0))
            allowance = tokens if math.isinf(tokens) else math.floor(tokens)
            self.room[key] = 0 if lim.paused else min(room, allowance)
        self.starved = False  # work was held back by a limit

    def blocked(self, scope: str) -> list[str]:
        return [key for (s, key), room in self.room.items() if s == scope and room <= 0]

    def take(self, queue: str, job_type: str) -> bool:
        keys = [k for k in (("queue", queue), ("job_type", job_type)) if k in self.room]
        if any(self.room[k] <= 0 for k in keys):
            self.starved = True
            return False
        for k in keys:
            self.room[k] -= 1
            if not math.isinf(self.tokens[k]):
                self.tokens[k] -= 1
        return True

    def token_updates(self) -> list[tuple[str, str, float]]:
        return [(scope, key, tokens) for (scope, key), tokens in self.tokens.items() if not math.isinf(tokens)]

    def next_token_at(self) -> float | None:
        """When a rate-limited key that ran dry earns its next token (for the fetcher's timer)."""
        times = []
        for key, lim in self.limits.items():
            if lim.rate_count and lim.rate_period and self.tokens[key] < 1 and not lim.paused:
                times.append(self.now + (1 - self.tokens[key]) * lim.rate_period / lim.rate_count)
        return min(times) if times else None


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]*)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_rate(rate: str | tuple[int, float] | None) -> tuple[int, float] | None:
    """"10/s", "100/m", "5/2s", "1000/h" or (count, seconds) → (count, seconds)."""
    if rate is None:
        return None
    if isinstance(rate, tuple):
        count, period = int(rate[0]), float(rate[1])
    else:
        match = _RATE.match(rate.lower())
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"invalid rate {rate!r}: use e.g. '10/s', '100/m' or '1000/h'")
        count = int(match.group(1))
        period = float(match.group(2) or 1) * _UNITS[match.group(3)]
    if count < 1 or period <= 0:
        raise ValueError(f"invalid rate {rate!r}: count and period must be positive")
    return count, period
