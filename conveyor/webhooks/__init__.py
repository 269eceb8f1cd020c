"""Webhook callbacks (SPEC §5): a durable outbox written with each state change, delivered by workers.

The pieces: `delivery` (the stored callback), `signing` (headers and HMAC signatures, also for
receivers), `validation` (what `enqueue(webhook=…)` accepts) and `dispatcher` (the worker's
delivery loop; import it from its module, it pulls in httpx and the store).
"""

from __future__ import annotations

from .delivery import DeliveryState, WebhookDelivery
from .signing import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from .validation import host_allowed, validate_webhook

__all__ = [
    "ATTEMPT_HEADER",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryState",
    "WebhookDelivery",
    "host_allowed",
    "sign",
    "validate_webhook",
    "verify_signature",
]
