"""The worker against a real SQLite store: retries, timeouts, cancellation, ordering, wake-ups."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Fail, JobContext, JobStatus, Retry
from conveyor.context import SyncJobContext
from tests.helpers import wait_for
from tests.integration.conftest import running_worker


def terminal(app: Conveyor, job_id: str, timeout: float = 20) -> Any:
    return wait_for(lambda: (j := app.get(job_id)).status.is_terminal and j, timeout=timeout, what=f"{job_id} terminal")


@pytest.fixture
def app(make_app: Any) -> Conveyor:
    return make_app(examples=False, retry_base_seconds=0.01, retry_max_seconds=0.05)


def test_result_progress_and_logs(app: Conveyor) -> None:
    @app.handler("doc")
    async def doc(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        await ctx.progress(25, step="reading_file", message="Reading file")
        await ctx.log("info", "Processing started")
        await ctx.log("debug", "details")
        return {"extracted_text": params["name"].upper()}

    job = app.enqueue("doc", {"name": "a.pdf"})
    with running_worker(app):
        done = terminal(app, job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.results == {"extracted_text": "A.PDF"}
    assert done.progress == {"step": "reading_file", "percent": 25, "message": "Reading file"}
    logs = [(e.level, e.message) for e in app.logs(job.job_id)]
    assert logs == [("info", "Processing started"), ("debug", "details")]
    body = app.get(job.job_id).to_dict()
    assert body["status"] == "completed" and body["attempt"] == 1 and body["finished_at"].endswith("Z")


class Params(pydantic.BaseModel):
    filename: str
    pages: int = 1


def test_pydantic_params_are_validated_and_parsed(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.handler("pdf")
    async def pdf(ctx: JobContext, params: Params) -> dict[str, Any]:
        seen.append(params)
        return {"pages": params.pages}

    from conveyor import InvalidParameters, UnknownJobType

    with pytest.raises(InvalidParameters) as err:
        app.enqueue("pdf", {"pages": 2})
    assert err.value.field == "filename"
    with pytest.raises(UnknownJobType):
        app.enqueue("nope", {})
    job = app.enqueue("pdf", {"filename": "a.pdf", "pages": 3})
    with running_worker(app):
        assert terminal(app, job.job_id).results == {"pages": 3}
    assert isinstance(seen[0], Params)


def test_retries_then_success_with_growing_backoff(app: Conveyor) -> None:
    calls: list[float] = []

    @app.handler("flaky", max_attempts=4)
    async def flaky(ctx: JobContext, params: dict[str, Any]) -> str:
        calls.append(time.monotonic())
        if ctx.attempt < 3:
            raise ConnectionError(f"boom {ctx.attempt}")
        return "ok"

    job = app.enqueue("flaky", {})
    with running_worker(app):
        done = terminal(app, job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.attempt == 3
    assert len(calls) == 3


def test_exhausted_retries_fail_with_structured_error_and_retry_revives(app: Conveyor) -> None:
    fail_now = threading.Event()
    fail_now.set()

    @app.handler("broken", max_attempts=2)
    def broken(ctx: SyncJobContext, params: dict[str, Any]) -> str:
        if fail_now.is_set():
            raise ValueError("bad data")
        return "fixed"

    job = app.enqueue("broken", {})
    with running_worker(app):
        done = terminal(app, job.job_id)
        assert done.status is JobStatus.FAILED
        assert done.attempt == 2
        assert done.error["code"] == "HANDLER_ERROR"
        assert done.error["message"] == "bad data"
        assert done.error["details"]["exception_type"] == "builtins.ValueError"
        assert "Traceback" in done.error["details"]["traceback"]
        fail_now.clear()
        from conveyor import InvalidTransition

        pending = app.enqueue("broken", {}, delay=60)
        with pytest.raises(InvalidTransition, match="only failed or cancelled"):
            app.retry(pending.job_id)
        revived = app.retry(job.job_id)
        assert revived.status is JobStatus.PENDING and revived.attempt == 0
        again = terminal(app, job.job_id)
    assert again.status is JobStatus.COMPLETED
    assert again.results == "fixed"
    assert again.error is None


def test_retry_and_fail_signals(app: Conveyor) -> None:
    @app.handler("asks_retry", max_attempts=5)
    async def asks_retry(ctx: JobContext, params: dict[str, Any]) -> int:
        if ctx.attempt == 1:
            raise Retry(delay=0.2)
        return ctx.attempt

    @app.handler("gives_up", max_attempts=5)
    async def gives_up(ctx: JobContext, params: dict[str, Any]) -> None:
        raise Fail("BAD_INPUT", "the file is not a PDF", {"filename": "x.txt"})

    r = app.enqueue("asks_retry", {})
    f = app.enqueue("gives_up", {})
    with running_worker(app):
        wait_for(lambda: app.get(r.job_id).status is JobStatus.SCHEDULED, what="retry to be scheduled")
        scheduled = app.get(r.job_id)
        assert scheduled.run_at_ts - scheduled.created_at_ts >= 0.15
        assert terminal(app, r.job_id).results == 2
        failed = terminal(app, f.job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.attempt == 1
    assert failed.error == {"code": "BAD_INPUT", "message": "the file is not a PDF", "details": {"filename": "x.txt"}}


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_timeout_fails_attempt_and_frees_slot(app: Conveyor, kind: str) -> None:
    if kind == "async":
        @app.handler("hang", max_attempts=1, timeout=0.3)
        async def hang(ctx: JobContext, params: dict[str, Any]) -> None:
            await asyncio.sleep(60)
    else:
        @app.handler("hang", max_attempts=1, timeout=0.3)
        def hang(ctx: SyncJobContext, params: dict[str, Any]) -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # pure Python: only an async exception stops it
                sum(range(1000))

    @app.handler("quick")
    async def quick(ctx: JobContext, params: dict[str, Any]) -> str:
        return "done"

    hung = app.enqueue("hang", {}, priority=9)
    after = app.enqueue("quick", {})
    with running_worker(app, concurrency=1):
        failed = terminal(app, hung.job_id)
        assert failed.status is JobStatus.FAILED
        assert failed.error["code"] == "TIMEOUT"
        assert terminal(app, after.job_id).status is JobStatus.COMPLETED  # the one slot was freed


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_cancel_running_job_records_no_result(app: Conveyor, kind: str) -> None:
    started = threading.Event()
    observed: list[bool] = []

    if kind == "async":
        @app.handler("long")
        async def long(ctx: JobContext, params: dict[str, Any]) -> str:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                observed.append(ctx.cancelled)
                raise
            return "should not be recorded"
    else:
        @app.handler("long")
        def long(ctx: SyncJobContext, params: dict[str, Any]) -> str:
            started.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not ctx.cancelled:
                time.sleep(0.01)
            observed.append(ctx.cancelled)
            return "should not be recorded"

    job = app.enqueue("long", {})
    with running_worker(app) as worker:
        assert started.wait(10)
        cancelled = app.cancel(job.job_id)
        assert cancelled.status is JobStatus.CANCELLED
        wait_for(lambda: not worker.running, what="handler to stop")
        wait_for(lambda: observed, what="handler to observe cancellation")
    assert observed == [True]
    final = app.get(job.job_id)
    assert final.status is JobStatus.CANCELLED
    assert final.results is None


def test_cancel_pending_and_scheduled_at_once(app: Conveyor) -> None:
    @app.handler("never")
    async def never(ctx: JobContext, params: dict[str, Any]) -> None:
        raise AssertionError("cancelled jobs must not run")

    pending = app.enqueue("never", {})
    scheduled = app.enqueue("never", {}, delay=0.3)
    assert scheduled.status is JobStatus.SCHEDULED
    assert app.cancel(pending.job_id).status is JobStatus.CANCELLED
    assert app.cancel(scheduled.job_id).status is JobStatus.CANCELLED
    from conveyor import InvalidTransition

    with pytest.raises(InvalidTransition):
        app.cancel(pending.job_id)
    marker = app.enqueue("never", {}, delay=0.5)
    app.cancel(marker.job_id)
    with running_worker(app):
        time_limit = time.monotonic() + 1.0
        while time.monotonic() < time_limit:  # the delays pass while a worker watches
            assert app.get(scheduled.job_id).status is JobStatus.CANCELLED
            time.sleep(0.05)


def test_priorities_and_queues(app: Conveyor) -> None:
    order: list[str] = []

    @app.handler("note")
    async def note(ctx: JobContext, params: dict[str, Any]) -> None:
        order.append(params["name"])

    for name, priority in [("low", 1), ("mid", 5), ("high", 9), ("mid2", 5)]:
        app.enqueue("note", {"name": name}, priority=priority)
    other = app.enqueue("note", {"name": "other-queue"}, queue="other", priority=10)
    with running_worker(app, concurrency=1, queues=("default",)):
        wait_for(lambda: len(order) == 4, what="default-queue jobs")
        assert app.get(other.job_id).status is JobStatus.PENDING  # not served by this worker
    assert order == ["high", "mid", "mid2", "low"]


def test_delay_and_run_at(app: Conveyor) -> None:
    started: dict[str, float] = {}

    @app.handler("when")
    async def when(ctx: JobContext, params: dict[str, Any]) -> None:
        started[params["k"]] = time.time()

    with running_worker(app):
        t0 = time.time()
        a = app.enqueue("when", {"k": "delay"}, delay=0.4)
        b = app.enqueue("when", {"k": "run_at"}, run_at=t0 + 0.6)
        terminal(app, a.job_id)
        terminal(app, b.job_id)
    assert started["delay"] - t0 >= 0.38
    assert started["run_at"] - t0 >= 0.58
    assert started["delay"] - t0 < 0.4 + 1.0  # pushed, not found by a slow poll


def test_idempotency_key_returns_the_live_job(app: Conveyor) -> None:
    @app.handler("once")
    async def once(ctx: JobContext, params: dict[str, Any]) -> str:
        return "ran"

    first = app.enqueue("once", {}, idempotency_key="doc-42")
    second = app.enqueue("once", {"other": True}, idempotency_key="doc-42")
    assert second.job_id == first.job_id
    assert second.parameters == {}
    with running_worker(app):
        terminal(app, first.job_id)
    third = app.enqueue("once", {}, idempotency_key="doc-42")  # the first is terminal now
    assert third.job_id != first.job_id


def test_sync_handlers_do_not_block_the_event_loop(app: Conveyor) -> None:
    @app.handler("blocking")
    def blocking(ctx: SyncJobContext, params: dict[str, Any]) -> str:
        time.sleep(1.0)
        return "slept"

    @app.handler("fast")
    async def fast(ctx: JobContext, params: dict[str, Any]) -> float:
        return time.monotonic()

    with running_worker(app, concurrency=4):
        blockers = [app.enqueue("blocking", {}) for _ in range(2)]
        wait_for(lambda: all(app.get(b.job_id).status is JobStatus.RUNNING for b in blockers), what="blockers")
        t0 = time.monotonic()
        quick = app.enqueue("fast", {})
        done = terminal(app, quick.job_id)
        assert done.results - t0 < 0.5  # ran while both sync handlers were still sleeping
        assert all(app.get(b.job_id).status is JobStatus.RUNNING for b in blockers)


def test_pushed_wakeup_starts_idle_job_fast(app: Conveyor) -> None:
    starts: dict[str, float] = {}

    @app.handler("stamp")
    async def stamp(ctx: JobContext, params: dict[str, Any]) -> None:
        starts[ctx.job_id] = time.time()

    with running_worker(app, poll_interval=30):  # a poll would take 30s: only a push can be quick
        latencies = []
        for _ in range(20):
            t0 = time.time()
            job = app.enqueue("stamp", {})
            wait_for(lambda j=job.job_id: j in starts, timeout=5, interval=0.001, what="start")
            latencies.append(starts[job.job_id] - t0)
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.05


def test_stats_and_purge(app: Conveyor) -> None:
    @app.handler("ok")
    async def ok(ctx: JobContext, params: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)

    jobs = app.enqueue_many([("ok", {}) for _ in range(20)])
    with running_worker(app):
        for job in jobs:
            terminal(app, job.job_id)
    stats = app.stats()
    assert stats["total_jobs"] == 20
    assert stats["by_status"]["completed"] == 20
    assert set(stats["by_status"]) == {s.value for s in JobStatus}
    assert stats["by_queue"]["default"]["completed"] == 20
    assert stats["by_type"]["ok"]["total"] == 20
    assert stats["success_rate"] == 1.0
    assert 0.005 < stats["avg_duration_sec"] < 5
    assert stats["p95_duration_sec"] >= stats["avg_duration_sec"] * 0.5
    assert app.purge(older_than=3600) == 0
    assert app.purge(older_than=0) == 20
    assert app.stats()["total_jobs"] == 0
