"""Webhook request headers and their HMAC-SHA256 signature; `verify_signature` is for receivers.

The signature is `sha256=` + hex(HMAC-SHA256(secret, f"{timestamp}.{body}")), where `timestamp`
is the `X-Conveyor-Timestamp` header (integer epoch seconds) and `body` the raw request body.
The secret is the `webhook_secret` setting, or else the subscription's bearer token.
"""

from __future__ import annotations

import hashlib
import hmac
import time

DELIVERY_HEADER = "X-Conveyor-Delivery"  # stable across retries: dedupe on it
TIMESTAMP_HEADER = "X-Conveyor-Timestamp"
SIGNATURE_HEADER = "X-Conveyor-Signature"
EVENT_HEADER = "X-Conveyor-Event"  # processing | completed | failed
ATTEMPT_HEADER = "X-Conveyor-Attempt"
JOB_HEADER = "X-Conveyor-Job-Id"
USER_AGENT = "conveyor-webhooks/1"


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    message = _bytes(str(timestamp)) + b"." + _bytes(body)
    return "sha256=" + hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int | None,
    body: str | bytes,
    signature: str | None,
    *,
    tolerance: float | None = 300.0,
    now: float | None = None,
) -> bool:
    """True when `signature` signs `body` at `timestamp` and (with a tolerance) the timestamp is
    recent, which stops replays of old requests. Compares in constant time."""
    if not signature or timestamp is None:
        return False
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance is not None and abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature)


def request_headers(
    *, delivery_id: str, event: str, attempt: int, job_id: str, token: str | None,
    secret: str | None, body: str, now: float,
) -> dict[str, str]:
    """Every header of one delivery attempt (no signature when there is neither secret nor token)."""
    timestamp = int(now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
        ATTEMPT_HEADER: str(attempt),
        JOB_HEADER: job_id,
        TIMESTAMP_HEADER: str(timestamp),
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    key = secret or token
    if key:
        headers[SIGNATURE_HEADER] = sign(key, timestamp, body)
    return headers
