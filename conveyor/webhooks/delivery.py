"""One stored webhook callback and its delivery state, as data (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..clock import to_iso


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting, being sent, or backing off after a failed attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # given up: too many attempts, too old, or refused for good


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A callback in the outbox. `payload` is the exact body sent and signed; `event` its phase."""

    delivery_id: str
    job_id: str
    event: str  # processing | completed | failed
    url: str
    token: str | None
    payload: str
    state: DeliveryState
    attempts: int
    created_at: float
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    finished_at: float | None
    seq: int = 0  # the outbox position: a job's callbacks go out in this order

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> WebhookDelivery:
        """From the column order of the `webhook_claim` / `webhook_list` queries."""
        return cls(
            delivery_id=row[0], job_id=row[1], event=row[2], url=row[3], token=row[4],
            payload=row[5], state=DeliveryState(row[6]), attempts=row[7], created_at=row[8],
            next_attempt_at=row[9], last_attempt_at=row[10], last_status=row[11],
            last_error=row[12], finished_at=row[13], seq=row[14],
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form for surfaces; never includes the bearer token."""
        return {
            "delivery_id": self.delivery_id,
            "event": self.event,
            "url": self.url,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": to_iso(self.created_at),
            "next_attempt_at": to_iso(self.next_attempt_at) if self.state is DeliveryState.PENDING else None,
            "last_attempt_at": to_iso(self.last_attempt_at),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "finished_at": to_iso(self.finished_at),
        }
