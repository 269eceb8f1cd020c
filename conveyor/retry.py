"""Backoff: exponential with full jitter and a cap (the AWS "full jitter" scheme)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt number `attempt` (1-based)."""
        return min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))

    def delay(self, attempt: int) -> float:
        # Full jitter spreads a thundering herd of failures evenly over [0, ceiling].
        return self.ceiling(attempt) * self.rand()
