"""The worker's webhook dispatcher: claims due outbox rows with a lease, POSTs them, records outcomes.

It runs beside the job pipeline as a maintenance service with its own bounded set of requests and
its own store thread, so a slow or dead receiver (or a backlog of callbacks) costs it time and
never the jobs. Delivery is at-least-once: a worker that dies mid-request leaves a lease that
expires, and another worker sends the same delivery id again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..clock import Clock
from ..job import JobId, LogEntry
from ..store.params import LogInsert, WebhookClaim, WebhookRecord
from .delivery import DeliveryState, WebhookDelivery
from .policy import DeliveryPolicy
from .signing import request_headers
from .validation import host_allowed

if TYPE_CHECKING:
    import httpx

    from ..settings import Settings
    from ..store import Store
    from ..worker.dbthread import DbThread

log = logging.getLogger("conveyor.webhooks")


def _describe(exc: BaseException) -> str:
    import httpx  # loaded already: a request raised this

    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


class WebhookDispatcher:
    def __init__(self, store: Store, db: DbThread, clock: Clock, settings: Settings, owner: str) -> None:
        """`db`: a store thread of its own (not the job pipeline's), which `run()` shuts down at the end."""
        self._store = store
        self._db = db
        self._clock = clock
        self._owner = owner
        self._secret = settings.webhook_secret
        self._allowed = settings.webhook_allowed_hosts
        self._timeout = settings.webhook_timeout_seconds
        self._concurrency = settings.webhook_concurrency
        self._interval = settings.webhook_progress_interval
        self._poll = settings.webhook_poll_interval
        # Longer than any request can take, so a live dispatcher never loses a lease mid-send.
        self._lease = 2 * self._timeout + 5.0
        self.policy = DeliveryPolicy(
            settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds,
            settings.webhook_max_attempts, settings.webhook_max_age_seconds,
        )
        self._in_flight: dict[asyncio.Task[None], WebhookDelivery] = {}
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self.delivered = 0  # counters, for metrics and tests
        self.failed_attempts = 0
        self.dead = 0

    # -- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.step()
                except Exception:
                    log.exception("webhook dispatch failed; retrying in 1s")
                    await asyncio.sleep(1.0)
        finally:
            await self._release_in_flight()
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await self._client.aclose()
            self._db.shutdown()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, made for the first delivery: httpx (a sixth of a worker's start-up
        imports) loads only in workers that send webhooks."""
        if self._client is None:
            import httpx

            limits = httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency)
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=limits, follow_redirects=False)
        return self._client

    async def _release_in_flight(self) -> None:
        """On shutdown: abandon the requests in flight and hand their callbacks back, due now, so
        another worker re-sends them (same delivery id) without waiting for the lease to expire."""
        abandoned = dict(self._in_flight)
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        now = self._clock.now()
        for d in abandoned.values():
            record = WebhookRecord(d.delivery_id, self._owner, d.attempts, DeliveryState.PENDING, now, now,
                                   None, "abandoned: the worker shut down during the request")
            with contextlib.suppress(Exception):  # else the lease expires: the same outcome, later
                await self._db.call(self._store.webhook_record, record)

    async def step(self) -> int:
        """Start what is due (up to free slots), else wait a little; returns how many started."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            await self._sleep(self._poll)
            return 0
        now = self._clock.now()
        due = await self._db.call0(self._store.webhook_next_due)
        if due is None or due > now:
            await self._sleep(self._poll if due is None else min(self._poll, due - now))
            return 0
        claim = WebhookClaim(self._owner, free, now, self._lease, self._interval)
        claimed = await self._db.call(self._store.webhook_claim, claim)
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(self._deliver(self._http(), delivery))
            self._in_flight[task] = delivery
            task.add_done_callback(self._done)
        if len(claimed) < free:
            await self._sleep(self._poll)  # the rest is not due yet, or waits behind a job's earlier callback
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()  # a freed slot, and maybe the job's next callback is now first in line

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if a delivery finished meanwhile (even just before this call)."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races a wake-up.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.001)):
                await self._wake.wait()
        self._wake.clear()

    # -- one delivery --------------------------------------------------------------------------

    async def _deliver(self, client: httpx.AsyncClient, d: WebhookDelivery) -> None:
        try:
            refused = self.policy.expired(d, self._clock.now())
            if refused is None and not host_allowed(d.url, self._allowed):
                refused = f"host {urlsplit(d.url).hostname!r} is not in webhook_allowed_hosts"
            if refused is not None:
                await self._record(d, DeliveryState.DEAD, None, None, refused)
                return
            status, error = await self._post(client, d)
            now = self._clock.now()
            if status is not None and 200 <= status < 300:
                await self._record(d, DeliveryState.DELIVERED, None, status, None)
            else:
                state, when = self.policy.after_failure(d, status, now)
                await self._record(d, state, when, status, error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s of job %s failed unexpectedly", d.delivery_id, d.job_id)

    async def _post(self, client: httpx.AsyncClient, d: WebhookDelivery) -> tuple[int | None, str | None]:
        import httpx  # loaded with the client
        headers = request_headers(
            delivery_id=d.delivery_id, event=d.event, attempt=d.attempts, job_id=d.job_id,
            token=d.token, secret=self._secret, body=d.payload, now=self._clock.now(),
        )
        try:
            async with asyncio.timeout(self._timeout):
                async with client.stream("POST", d.url, content=d.payload.encode(), headers=headers) as resp:
                    status = resp.status_code
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return None, _describe(exc)
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    async def _record(
        self, d: WebhookDelivery, state: DeliveryState, when: float | None, status: int | None, error: str | None
    ) -> None:
        now = self._clock.now()
        record = WebhookRecord(d.delivery_id, self._owner, d.attempts, state, now, when, status, error)
        if not await self._db.call(self._store.webhook_record, record):
            log.warning("webhook delivery %s: lease lost before its outcome was written", d.delivery_id)
            return
        note = self._note(d, state, when, status, error, now)
        if note is not None:
            level, message = note
            await self._db.call(self._store.log_insert, LogInsert(JobId(d.job_id), (LogEntry(now, level, message),)))

    def _note(
        self, d: WebhookDelivery, state: DeliveryState, when: float | None, status: int | None,
        error: str | None, now: float,
    ) -> tuple[str, str] | None:
        """Counts the outcome; returns the job log line for it, if it deserves one."""
        host = urlsplit(d.url).hostname
        tries = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
        if state is DeliveryState.DELIVERED:
            self.delivered += 1
            if d.attempts > 1 or d.event != "processing":
                return "info", f"webhook {d.event} delivered to {host} (HTTP {status}, {tries}, id {d.delivery_id})"
            return None
        if state is DeliveryState.DEAD:
            self.dead += 1
            log.warning("webhook delivery %s of job %s is dead: %s", d.delivery_id, d.job_id, error)
            return "error", f"webhook {d.event} to {host} given up after {tries}: {error} (id {d.delivery_id})"
        self.failed_attempts += 1
        if d.attempts == 1:
            log.debug("webhook delivery %s of job %s failed (%s); retrying", d.delivery_id, d.job_id, error)
            wait = (when or now) - now
            message = f"webhook {d.event} to {host} failed: {error}; retrying in {wait:.1f}s (id {d.delivery_id})"
            return "warning", message
        return None

