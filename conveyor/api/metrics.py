"""`GET /metrics`: Prometheus series computed from the store at scrape time, so they count the work
of every process sharing it (workers elsewhere, other API servers), plus this server's requests.

Counters (`*_total`) count what happened since this server started: each scrape adds the jobs
inserted since the last scrape's cursor and the jobs that finished in the window since the last
scrape, lagging `LAG` seconds behind the clock so commits in flight are not missed."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..status import JobStatus
from ..store.params import MetricsRead, MetricsSnapshot

if TYPE_CHECKING:
    from ..app import Conveyor

LAG = 2.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, math.inf)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = tuple[str, str]  # (queue, job_type)


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.total += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
                break

    def buckets(self) -> list[tuple[str, float]]:
        running, out = 0, []
        for bound, n in zip(BUCKETS, self.counts, strict=True):
            running += n
            out.append(("+Inf" if math.isinf(bound) else repr(bound), float(running)))
        return out


class StoreMetrics:
    """Reads the store once per scrape; thread-safe (scrapes may overlap)."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._cursor: str | None = None
        self._since: float | None = None
        self._enqueued: dict[Labels, int] = defaultdict(int)
        self._finished: dict[tuple[str, str, str], int] = defaultdict(int)
        self._durations: dict[Labels, _Histogram] = defaultdict(_Histogram)
        self._snapshot: MetricsSnapshot | None = None
        self._now = 0.0

    def prime(self) -> None:
        """Start counting from now (called when the server starts)."""
        with self._lock:
            self._read()

    def refresh(self) -> None:
        with self._lock:
            self._read()

    def _read(self) -> None:
        now = self.app.clock.now()
        until = now - LAG
        since = self._since if self._since is not None else None
        snap = self.app.store.metrics_read(MetricsRead(now, self._cursor, since, until if since is not None else None))
        if self._cursor is not None:
            for queue, job_type, n in snap.enqueued:
                self._enqueued[(queue, job_type)] += n
        for queue, job_type, status, duration in snap.finished:
            self._finished[(queue, job_type, status)] += 1
            if duration is not None and duration >= 0:
                self._durations[(queue, job_type)].observe(duration)
        self._cursor = snap.enqueued_cursor
        self._since = until if self._since is None or until > self._since else self._since
        self._snapshot, self._now = snap, now

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        if snap is None:
            return
        jobs = GaugeMetricFamily("conveyor_jobs", "Jobs in the store by queue, type and status.",
                                 labels=["queue", "job_type", "status"])
        depth: dict[str, int] = defaultdict(int)
        for queue, job_type, status, n in snap.counts:
            jobs.add_metric([queue, job_type, status], n)
            if status == JobStatus.PENDING.value:
                depth[queue] += n
        yield jobs
        queue_depth = GaugeMetricFamily("conveyor_queue_depth", "Pending (due, unclaimed) jobs per queue.",
                                        labels=["queue"])
        for queue, n in sorted(depth.items()):
            queue_depth.add_metric([queue], n)
        yield queue_depth
        oldest = GaugeMetricFamily("conveyor_oldest_pending_age_seconds",
                                   "Age of the oldest pending job per queue (since it became due).", labels=["queue"])
        for queue, run_at in snap.oldest_pending:
            oldest.add_metric([queue], max(0.0, self._now - run_at))
        yield oldest
        yield from self._counters()

    def _counters(self) -> Iterator[Metric]:
        enqueued = CounterMetricFamily("conveyor_jobs_enqueued", "Jobs enqueued (by any process) since this server "
                                       "started.", labels=["queue", "job_type"])
        for (queue, job_type), n in sorted(self._enqueued.items()):
            enqueued.add_metric([queue, job_type], n)
        yield enqueued
        for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
            family = CounterMetricFamily(f"conveyor_jobs_{status.value}", f"Jobs {status.value} (by any worker) since "
                                         "this server started.", labels=["queue", "job_type"])
            for (queue, job_type, s), n in sorted(self._finished.items()):
                if s == status.value:
                    family.add_metric([queue, job_type], n)
            yield family
        durations = HistogramMetricFamily("conveyor_job_duration_seconds", "Run time of finished jobs (last attempt).",
                                          labels=["queue", "job_type"])
        for (queue, job_type), hist in sorted(self._durations.items()):
            durations.add_metric([queue, job_type], hist.buckets(), hist.total)
        yield durations

    def describe(self) -> list[Metric]:
        return []


class Metrics:
    """The API's registry: the store's series and this server's request counters."""

    def __init__(self, app: Conveyor) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.store = StoreMetrics(app)
        self.registry.register(self.store)
        self.requests = Counter("conveyor_api_requests", "HTTP requests served.", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("conveyor_api_request_duration_seconds", "HTTP request latency (to the response "
                                 "start).", ["method", "route"], registry=self.registry)

    def render(self) -> bytes:
        self.store.refresh()
        return generate_latest(self.registry)


class RequestMetrics:
    """ASGI middleware counting requests by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                route: Any = scope.get("route")
                path = getattr(route, "path", "unmatched")
                self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - started)
                self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()
            await send(message)

        await self.app(scope, receive, send_recording)
