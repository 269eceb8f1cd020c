"""Retry policy of webhook deliveries: backoff with jitter, and when to give up (no I/O)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .delivery import DeliveryState, WebhookDelivery

GONE = 410  # the receiver says the subscription is gone for good: stop at once


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 120.0
    max_attempts: int = 30
    max_age_seconds: float = 86_400.0

    def delay(self, attempt: int, rand: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`: doubling from `base_seconds`, capped at
        `max_seconds`, minus up to 25% jitter so a recovering receiver is not hit in lockstep."""
        raw = min(self.max_seconds, self.base_seconds * 2.0 ** min(max(attempt - 1, 0), 62))
        r = random.random() if rand is None else rand
        return raw * (1.0 - 0.25 * r)

    def expired(self, delivery: WebhookDelivery, now: float) -> str | None:
        """Why a claimed delivery must not be tried again (crash loops, stale), else None."""
        if delivery.attempts > self.max_attempts:
            return f"gave up after {delivery.attempts - 1} attempts"
        if now - delivery.created_at > self.max_age_seconds:
            return f"gave up: older than {self.max_age_seconds:g}s"
        return None

    def after_failure(
        self, delivery: WebhookDelivery, status: int | None, now: float
    ) -> tuple[DeliveryState, float | None]:
        """Retry (PENDING, when) or give up (DEAD, None) after attempt `delivery.attempts` failed."""
        if status == GONE or delivery.attempts >= self.max_attempts:
            return DeliveryState.DEAD, None
        when = now + self.delay(delivery.attempts)
        if when - delivery.created_at > self.max_age_seconds:
            return DeliveryState.DEAD, None
        return DeliveryState.PENDING, when
