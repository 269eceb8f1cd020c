"""Webhook delivery end to end: a real worker, a real HTTP receiver, SPEC §5 payloads, signatures,
retries through an outage, coalescing of chatty progress, and a hung receiver that the jobs never notice.
The payload, outage and two-worker tests run on both stores (`store_url`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conveyor import Conveyor, Fail, InvalidJobOptions, JobContext, JobStatus
from conveyor.webhooks import DeliveryState
from tests.helpers import wait_for
from tests.integration.conftest import running_worker
from tests.postgres_helpers import STORES, store_url_for
from tests.webhooks.receiver import Receiver

FAST = {"webhook_poll_interval": 0.02, "webhook_retry_base_seconds": 0.05, "webhook_retry_max_seconds": 0.3}


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Inside a handler: wait for a condition without blocking the worker's loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out inside the handler")
        await asyncio.sleep(0.01)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    with store_url_for(request.param, sqlite_url, "hook") as url:
        yield url


def all_delivered(app: Conveyor, job_ids: list[str]) -> bool:
    for job_id in job_ids:
        deliveries = app.webhook_deliveries(job_id)
        if not deliveries or any(d.state is not DeliveryState.DELIVERED for d in deliveries):
            return False
        if deliveries[-1].event == "processing":
            return False
    return True


def terminal(app: Conveyor, job_ids: list[str], timeout: float = 20.0) -> None:
    wait_for(lambda: all(app.get(j).status.is_terminal for j in job_ids), timeout=timeout, what="jobs to finish")


def test_progress_and_completion_payloads_match_spec(make_app: Any, receiver: Receiver, store_url: str) -> None:
    app: Conveyor = make_app(store_url, examples=False, webhook_progress_interval=0.0, **FAST)

    @app.handler("pdf")
    async def pdf(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        await ctx.progress(25, step="reading_file", message="Reading file")
        await until(lambda: len(receiver.accepted()) >= 1)  # so the next progress is not coalesced
        await ctx.progress(50, step="extracting_text", message="Extracting text…")
        return {"extracted_text": "hello"}

    webhook = {"url": receiver.url, "token": "tok-123", "jobId": "client-7"}
    job = app.enqueue("pdf", {"filename": "a.pdf"}, webhook=webhook)
    with running_worker(app):
        wait_for(lambda: all_delivered(app, [job.job_id]), what="callbacks delivered")

    got = receiver.snapshot()
    process = {"id": job.job_id}
    assert [r.payload for r in got] == [
        {"phase": "processing", "progress": 25, "message": "Reading file", "process": process, "jobId": "client-7"},
        {"phase": "processing", "progress": 50, "message": "Extracting text…", "process": process, "jobId": "client-7"},
        {"phase": "completed", "message": "Processing completed", "data": {"extracted_text": "hello"},
         "jobId": "client-7"},
    ]
    assert list(got[0].payload) == ["phase", "progress", "message", "process", "jobId"]  # SPEC's key order
    assert list(got[2].payload) == ["phase", "message", "data", "jobId"]
    for r in got:
        assert r.header("Authorization") == "Bearer tok-123"
        assert r.header("Content-Type") == "application/json"
        assert r.header("X-Conveyor-Attempt") == "1"
        assert r.job_id == job.job_id
        assert r.signed_with("tok-123")  # no webhook_secret set: the token is the key
        assert not r.signed_with("another-key")
        assert abs(int(r.header("X-Conveyor-Timestamp") or 0) - time.time()) < 30
    assert [r.header("X-Conveyor-Event") for r in got] == ["processing", "processing", "completed"]
    assert len({r.delivery_id for r in got}) == 3

    deliveries = app.webhook_deliveries(job.job_id)
    assert [(d.event, d.state, d.attempts, d.last_status) for d in deliveries] == [
        ("processing", DeliveryState.DELIVERED, 1, 200),
        ("processing", DeliveryState.DELIVERED, 1, 200),
        ("completed", DeliveryState.DELIVERED, 1, 200),
    ]
    assert [d.delivery_id for d in deliveries] == [r.delivery_id for r in got]
    assert "token" not in json.dumps(deliveries[0].to_dict())
    assert any("webhook completed delivered" in e.message for e in app.logs(job.job_id))


def test_failure_and_cancel_payloads_signed_with_the_secret(make_app: Any, receiver: Receiver) -> None:
    app: Conveyor = make_app(examples=False, webhook_secret="fleet-secret", **FAST)

    @app.handler("bad", max_attempts=3)
    async def bad(ctx: JobContext, params: dict[str, Any]) -> None:
        raise Fail("BAD_INPUT", "the file is not a PDF", {"filename": "x.txt"})

    failed = app.enqueue("bad", {}, webhook={"url": receiver.url, "token": "t", "jobId": 42})
    later = app.enqueue("bad", {}, delay=3600, webhook={"url": receiver.url, "jobId": "c-9"})
    app.cancel(later.job_id, reason="user changed their mind")
    with running_worker(app):
        wait_for(lambda: all_delivered(app, [failed.job_id, later.job_id]), what="callbacks delivered")

    [fail_cb] = receiver.for_job(failed.job_id)
    assert fail_cb.payload == {
        "phase": "failed", "message": "the file is not a PDF",
        "error": {"code": "BAD_INPUT", "message": "the file is not a PDF", "details": {"filename": "x.txt"}},
        "jobId": 42,
    }
    [cancel_cb] = receiver.for_job(later.job_id)
    assert cancel_cb.payload == {
        "phase": "failed", "message": "user changed their mind",
        "error": {"code": "CANCELLED", "message": "user changed their mind", "details": {}},
        "jobId": "c-9",
    }
    assert cancel_cb.header("Authorization") is None  # no token given
    for r in (fail_cb, cancel_cb):
        assert r.signed_with("fleet-secret")
        assert not r.signed_with("t")


def test_allow_list_refuses_other_hosts_at_enqueue(make_app: Any) -> None:
    app: Conveyor = make_app(examples=False, webhook_allowed_hosts="hooks.example.com,*.partner.org")
    app.register("noop", lambda ctx, params: None)
    ok = app.enqueue("noop", {}, webhook={"url": "https://hooks.example.com/cb", "token": "t", "jobId": "1"})
    assert ok.webhook == {"url": "https://hooks.example.com/cb", "token": "t", "jobId": "1"}
    app.enqueue("noop", {}, webhook={"url": "https://eu.partner.org/cb"})
    for url in ("https://evil.example.net/cb", "http://127.0.0.1:9/cb", "https://partner.org.evil.com/"):
        with pytest.raises(InvalidJobOptions) as err:
            app.enqueue("noop", {}, webhook={"url": url})
        assert err.value.field == "webhook"
        assert "webhook_allowed_hosts" in str(err.value)


def test_receiver_down_then_up_gets_every_callback_once_in_order(
    make_app: Any, down_receiver: Receiver, store_url: str
) -> None:
    """Acceptance 4 at test scale: the receiver's port is closed, then it answers 503 (after
    reading the request, so it sees duplicates), then it is up. After deduping by delivery id it
    has every callback exactly once, in order per job, each signature verifiable."""
    receiver = down_receiver
    app: Conveyor = make_app(store_url, examples=False, webhook_secret="shh", webhook_progress_interval=0.05,
                             webhook_max_attempts=1000, **FAST)

    @app.handler("doc", max_attempts=1)
    async def doc(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        for step in (1, 2, 3):
            await ctx.progress(step * 30, message=f"step {step}")
            await asyncio.sleep(0.08)
        if params["fail"]:
            raise Fail("BROKEN", f"document {params['n']} is broken")
        return {"n": params["n"]}

    jobs = [
        app.enqueue("doc", {"n": n, "fail": n % 5 == 4}, webhook={"url": receiver.url, "token": f"t{n}", "jobId": n})
        for n in range(12)
    ]
    ids = [j.job_id for j in jobs]
    down_since = time.monotonic()
    # The issue's full scenario keeps the receiver down for a minute: CONVEYOR_TEST_WEBHOOK_OUTAGE=60.
    outage = float(os.environ.get("CONVEYOR_TEST_WEBHOOK_OUTAGE", "0"))
    with running_worker(app, concurrency=6):
        terminal(app, ids)  # the jobs finish while the receiver is down
        wait_for(lambda: all(any(d.attempts >= 2 for d in app.webhook_deliveries(j)) for j in ids),
                 what="every job's first callback to have failed and been retried")
        time.sleep(max(0.0, outage - (time.monotonic() - down_since)))  # the outage itself is the scenario
        receiver.mode = "error"
        receiver.start()
        wait_for(lambda: len({r.delivery_id for r in receiver.snapshot()}) >= 12, what="503 answers to every job")
        receiver.mode = "ok"
        wait_for(lambda: all_delivered(app, ids), timeout=30, what="every callback delivered")

    requests = receiver.snapshot()
    assert any(r.answered == 503 for r in requests)
    assert all(r.signed_with("shh") for r in requests)
    delivered_ids: set[str] = set()
    for job, n in zip(jobs, range(12), strict=True):
        stored = app.webhook_deliveries(job.job_id)
        got = receiver.for_job(job.job_id)
        assert [r.delivery_id for r in got] == [d.delivery_id for d in stored]  # each once, in order
        accepted = receiver.for_job(job.job_id, receiver.accepted())
        assert [r.delivery_id for r in accepted] == [d.delivery_id for d in stored]
        phases = [r.payload["phase"] for r in got]
        assert phases[-1] == ("failed" if n % 5 == 4 else "completed")
        assert set(phases[:-1]) == {"processing"}
        progress = [r.payload["progress"] for r in got[:-1]]
        assert progress == sorted(progress) and progress[-1] == 90  # the newest progress won
        assert all(r.payload["jobId"] == n for r in got)
        assert all(r.header("Authorization") == f"Bearer t{n}" for r in got)
        assert any("failed: " in e.message for e in app.logs(job.job_id))
        delivered_ids.update(d.delivery_id for d in stored)
    assert {r.delivery_id for r in requests} == delivered_ids  # nothing sent that is not in the outbox


def test_chatty_handler_is_coalesced(make_app: Any, receiver: Receiver) -> None:
    app: Conveyor = make_app(examples=False, webhook_progress_interval=0.25, **FAST)
    calls = 400

    @app.handler("chatty")
    async def chatty(ctx: JobContext, params: dict[str, Any]) -> str:
        for i in range(1, calls + 1):
            await ctx.progress(i * 100 / calls, message=f"tick {i}")
            await asyncio.sleep(0.002)
        return "done"

    job = app.enqueue("chatty", {}, webhook={"url": receiver.url, "token": "t", "jobId": "c"})
    with running_worker(app):
        wait_for(lambda: all_delivered(app, [job.job_id]), timeout=60, what="callbacks delivered")
    done = app.get(job.job_id)
    assert done.duration is not None
    got = receiver.deduped()
    progress = [r.payload for r in got if r.payload["phase"] == "processing"]
    bound = done.duration / 0.25 + 3  # one per interval, plus the first and the flush before completion
    assert 2 <= len(progress) <= bound, (len(progress), done.duration)
    assert len(progress) < calls / 10
    assert progress[-1]["progress"] == 100 and progress[-1]["message"] == f"tick {calls}"
    assert got[-1].payload["phase"] == "completed"
    assert len(app.webhook_deliveries(job.job_id)) == len(got)
    # Between progress callbacks: at least the interval (less arrival jitter, which reached 50 ms on
    # a loaded 2-core machine; without coalescing they would be a few ms apart), except for the
    # last one, which the completion queued behind it sends at once.
    gaps = [b.at - a.at for a, b in itertools.pairwise(got[:-2])]
    assert all(gap >= 0.15 for gap in gaps), gaps


def test_hung_receiver_does_not_slow_jobs(make_app: Any, receiver: Receiver) -> None:
    receiver.mode = "hang"
    app: Conveyor = make_app(examples=False, webhook_timeout_seconds=60, webhook_concurrency=2, **FAST)

    @app.handler("quick")
    async def quick(ctx: JobContext, params: dict[str, Any]) -> int:
        await ctx.progress(50, message="half way")
        return int(params["n"])

    with running_worker(app, concurrency=8):
        first = app.enqueue("quick", {"n": -1}, webhook={"url": receiver.url, "jobId": "first"})
        wait_for(lambda: receiver.hanging >= 1, what="a request to hang")
        started = time.monotonic()
        jobs = [app.enqueue("quick", {"n": n}, webhook={"url": receiver.url, "jobId": n}) for n in range(50)]
        terminal(app, [j.job_id for j in jobs], timeout=15)
        elapsed = time.monotonic() - started
        assert elapsed < 10, elapsed  # far below the 60 s webhook timeout
        assert all(app.get(j.job_id).status is JobStatus.COMPLETED for j in [first, *jobs])
        assert receiver.hanging <= 2  # bounded concurrency: the rest wait their turn in the outbox
        pending = [d for j in jobs for d in app.webhook_deliveries(j.job_id) if d.state is DeliveryState.PENDING]
        assert len(pending) >= 50
    # Stopping the worker cancelled the hung requests; their leases will expire and another
    # worker re-sends them (same delivery id).


def test_two_workers_never_send_the_same_delivery_twice(make_app: Any, receiver: Receiver, store_url: str) -> None:
    app: Conveyor = make_app(store_url, examples=False, webhook_progress_interval=0.0, **FAST)

    @app.handler("step")
    async def step(ctx: JobContext, params: dict[str, Any]) -> int:
        await ctx.progress(10)
        await asyncio.sleep(0.01)
        await ctx.progress(90)
        return 1

    jobs = [app.enqueue("step", {}, webhook={"url": receiver.url, "jobId": n}) for n in range(40)]
    ids = [j.job_id for j in jobs]
    with running_worker(app, concurrency=4), running_worker(app, concurrency=4):
        wait_for(lambda: all_delivered(app, ids), timeout=30, what="every callback delivered")
    accepted = receiver.accepted()
    assert len(accepted) == len({r.delivery_id for r in accepted})
    for job_id in ids:
        assert [r.delivery_id for r in receiver.for_job(job_id, accepted)] == [
            d.delivery_id for d in app.webhook_deliveries(job_id)
        ]


def test_a_stopped_worker_hands_back_its_in_flight_callbacks(make_app: Any, receiver: Receiver) -> None:
    """At-least-once with a stable id: the request a stopping worker abandons is sent again by the
    next worker, under the same delivery id, so the receiver can drop the duplicate."""
    receiver.mode = "hang"
    app: Conveyor = make_app(examples=False, webhook_timeout_seconds=60, **FAST)
    app.register("noop", lambda ctx, params: "ok")
    job = app.enqueue("noop", {}, webhook={"url": receiver.url, "jobId": "j"})
    with running_worker(app):
        wait_for(lambda: receiver.hanging >= 1, what="the callback to hang")
    [d] = app.webhook_deliveries(job.job_id)
    assert d.state is DeliveryState.PENDING and d.attempts == 1
    assert d.last_error is not None and "shut down" in d.last_error
    receiver.mode = "ok"
    receiver.release()  # the abandoned request now reaches the receiver too
    with running_worker(app):
        wait_for(lambda: all_delivered(app, [job.job_id]), what="the callback re-sent")
    [d] = app.webhook_deliveries(job.job_id)
    assert d.attempts == 2
    ids = [r.delivery_id for r in receiver.snapshot()]
    assert ids == [d.delivery_id, d.delivery_id] or ids == [d.delivery_id]
    assert len(receiver.deduped()) == 1
