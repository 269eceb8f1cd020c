"""Webhook rules without I/O: signatures, what enqueue accepts, the allow-list, backoff and giving up."""

from __future__ import annotations

import pytest

from conveyor import InvalidJobOptions
from conveyor.webhooks import DeliveryState, WebhookDelivery, host_allowed, sign, validate_webhook, verify_signature
from conveyor.webhooks.policy import DeliveryPolicy
from conveyor.webhooks.signing import request_headers


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = '{"phase":"completed"}'
    expected = hmac.new(b"k", b"1700000000." + body.encode(), hashlib.sha256).hexdigest()
    assert sign("k", 1700000000, body) == f"sha256={expected}"
    assert verify_signature("k", "1700000000", body.encode(), f"sha256={expected}", now=1700000100)
    assert not verify_signature("k", "1700000000", body + " ", f"sha256={expected}", now=1700000100)
    assert not verify_signature("other", "1700000000", body, f"sha256={expected}", now=1700000100)
    assert not verify_signature("k", "1700000000", body, f"sha256={expected}", now=1700009999)  # replayed late
    assert verify_signature("k", "1700000000", body, f"sha256={expected}", tolerance=None, now=1800000000)
    assert not verify_signature("k", None, body, f"sha256={expected}")
    assert not verify_signature("k", "soon", body, f"sha256={expected}")


def test_request_headers() -> None:
    h = request_headers(delivery_id="d1", event="completed", attempt=2, job_id="j", token="tok",
                        secret=None, body="{}", now=1700000000.7)
    assert h["Authorization"] == "Bearer tok"
    assert h["X-Conveyor-Delivery"] == "d1" and h["X-Conveyor-Attempt"] == "2"
    assert h["X-Conveyor-Timestamp"] == "1700000000"
    assert h["X-Conveyor-Signature"] == sign("tok", 1700000000, "{}")
    secret = request_headers(delivery_id="d1", event="completed", attempt=1, job_id="j", token="tok",
                             secret="s", body="{}", now=1700000000)
    assert secret["X-Conveyor-Signature"] == sign("s", 1700000000, "{}")
    bare = request_headers(delivery_id="d1", event="completed", attempt=1, job_id="j", token=None,
                           secret=None, body="{}", now=1700000000)
    assert "Authorization" not in bare and "X-Conveyor-Signature" not in bare


@pytest.mark.parametrize(
    "value",
    [
        "https://x.com/hook",
        {"token": "t"},
        {"url": ""},
        {"url": "ftp://x.com/a"},
        {"url": "http:///nohost"},
        {"url": "http://x.com:99999/"},
        {"url": "http://x.com/", "token": 5},
        {"url": "http://x.com/", "jobId": {"nested": 1}},
        {"url": "http://x.com/", "jobId": True},
        {"url": "http://x.com/", "jobId": 2**64},
        {"url": "http://x.com/", "secret": "s"},
        {"url": "http://x.com/" + "a" * 3000},
    ],
)
def test_invalid_webhooks_are_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidJobOptions) as err:
        validate_webhook(value)
    assert err.value.field == "webhook"


def test_valid_webhook_is_normalized() -> None:
    assert validate_webhook(None) is None
    assert validate_webhook({"url": " https://x.com/h ", "token": "", "jobId": 7}) == {
        "url": "https://x.com/h", "token": None, "jobId": 7,
    }


def test_host_allow_list() -> None:
    allowed = ("hooks.example.com", "*.partner.org", "localhost:8080")
    assert host_allowed("https://anything.net/", None)
    assert host_allowed("https://HOOKS.example.com/x", allowed)
    assert host_allowed("https://a.b.partner.org/x", allowed)
    assert not host_allowed("https://partner.org/x", allowed)
    assert not host_allowed("https://evilpartner.org/x", allowed)
    assert host_allowed("http://localhost:8080/x", allowed)
    assert not host_allowed("http://localhost:9090/x", allowed)
    assert not host_allowed("https://hooks.example.com.evil.io/", allowed)


def _delivery(attempts: int, created_at: float = 0.0) -> WebhookDelivery:
    return WebhookDelivery("d", "j", "completed", "http://x/", None, "{}", DeliveryState.PENDING, attempts,
                           created_at, created_at, None, None, None, None)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = DeliveryPolicy(base_seconds=1.0, max_seconds=60.0, max_attempts=10, max_age_seconds=3600)
    assert [policy.delay(a, rand=0.0) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert policy.delay(30, rand=0.0) == 60.0
    assert policy.delay(10_000, rand=0.0) == 60.0
    assert 0.75 <= policy.delay(1) <= 1.0


def test_giving_up() -> None:
    policy = DeliveryPolicy(base_seconds=1.0, max_seconds=60.0, max_attempts=3, max_age_seconds=100)
    state, when = policy.after_failure(_delivery(1), 503, now=10.0)
    assert state is DeliveryState.PENDING and when is not None and 10.75 <= when <= 11.0
    assert policy.after_failure(_delivery(3), 503, now=10.0) == (DeliveryState.DEAD, None)  # attempts used up
    assert policy.after_failure(_delivery(1), 410, now=10.0) == (DeliveryState.DEAD, None)  # Gone
    assert policy.after_failure(_delivery(2), None, now=99.5) == (DeliveryState.DEAD, None)  # too old by then
    assert policy.expired(_delivery(4), now=1.0) is not None  # reclaimed after crashes past the limit
    assert policy.expired(_delivery(1), now=101.0) is not None
    assert policy.expired(_delivery(3), now=50.0) is None
