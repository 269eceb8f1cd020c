"""Live events over Server-Sent Events, read from the store so they include the work of workers in
other processes. One hub per API polls once per tick for everyone watching (woken early by the
store's wake-ups and by this API's own actions), so watchers add no load of their own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..job import Job, LogEntry
from ..status import JobStatus
from ..store.params import JobGet, JobList, LogTail

if TYPE_CHECKING:
    from .services import ApiServices

log = logging.getLogger("conveyor.api.events")
QUEUE_SIZE = 10_000
LOG_BATCH = 500
FLEET_RUNNING_LIMIT = 1000
FLEET_NEW_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n".encode()


_END = Event("__end__", {})


@dataclass(eq=False)
class _Watch:
    job_id: str
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    status_key: tuple[Any, ...] | None = None
    progress: Any = None
    log_after: int = 0
    done: bool = False

    def put(self, event: Event) -> None:
        if self.done:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a consumer this slow is dropped; it can reconnect
            self.finish()

    def finish(self) -> None:
        if not self.done:
            self.done = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(_END)

    def feed(self, job: Job | None, logs: list[tuple[int, LogEntry]]) -> None:
        if job is None:
            self.put(Event("error", {"job_id": self.job_id, "code": "JOB_NOT_FOUND", "message": "job not found"}))
            self.finish()
            return
        key = (job.status.value, job.attempt, job.started_at_ts, job.finished_at_ts)
        terminal = job.status.is_terminal
        if not terminal and key != self.status_key:
            self.status_key = key
            self.put(Event("job", job.to_dict()))
        if job.progress is not None and job.progress != self.progress:
            self.progress = job.progress
            self.put(Event("progress", {"job_id": job.job_id, "status": job.status.value, "progress": job.progress}))
        for seq, entry in logs:
            if seq > self.log_after:
                self.log_after = seq
                self.put(Event("log", {"job_id": job.job_id, **entry.to_dict()}))
        if terminal and len(logs) < LOG_BATCH:  # every log line is out: the job's last word
            self.put(Event("job", job.to_dict()))
            self.put(Event("end", {"job_id": job.job_id, "status": job.status.value}))
            self.finish()


class EventHub:
    def __init__(self, services: ApiServices, interval: float = 0.25, ping_seconds: float = 10.0) -> None:
        self.services = services
        self.store = services.app.store
        self.interval = interval
        self.ping_seconds = ping_seconds
        self._watches: dict[str, set[_Watch]] = {}
        self._fleet: set[asyncio.Queue[Event]] = set()
        self._fleet_running: dict[str, tuple[Any, ...]] = {}
        self._fleet_known: deque[str] = deque(maxlen=5000)
        self._fleet_primed = False
        self._wake: asyncio.Event | None = None
        self._closed = False
        services.changed = self.changed

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until `close()`; started by the API's lifespan."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        listener = None
        try:
            listener = self.store.wakeup.listen()
            loop.add_reader(listener.fileno(), self._on_wakeup, listener)
        except Exception as exc:  # polling alone still works
            log.warning("live events without store wake-ups (polling only): %s", exc)
            listener = None
        try:
            while not self._closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
                if self._watches or self._fleet:
                    try:
                        await self._tick()
                    except Exception:
                        log.exception("live events: a poll failed; trying again")
        finally:
            if listener is not None:
                loop.remove_reader(listener.fileno())
                listener.close()
            self._finish_all()

    def _on_wakeup(self, listener: Any) -> None:
        listener.drain()
        self.changed("")

    def changed(self, job_id: str) -> None:
        if self._wake is not None:
            self._wake.set()

    def close(self) -> None:
        """End every stream (graceful shutdown) and stop polling."""
        self._closed = True
        self._finish_all()
        if self._wake is not None:
            self._wake.set()

    def _finish_all(self) -> None:
        for watches in list(self._watches.values()):
            for watch in watches:
                watch.finish()
        for queue in list(self._fleet):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(_END)

    # -- streams -----------------------------------------------------------------------------

    async def job_stream(self, job_id: str) -> AsyncIterator[bytes]:
        """SSE for one job: `job` (status changes), `progress`, `log`, then `end` when terminal."""
        watch = _Watch(job_id)
        self._watches.setdefault(job_id, set()).add(watch)
        self.changed(job_id)
        try:
            yield b"retry: 1000\n\n"
            async for chunk in self._drain(watch.queue):
                yield chunk
        finally:
            watches = self._watches.get(job_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[job_id]

    async def fleet_stream(self) -> AsyncIterator[bytes]:
        """SSE for every job: `job` (new jobs and status changes), `progress`, and `stats`."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._fleet.add(queue)
        self.changed("")
        try:
            yield b"retry: 1000\n\n"
            stats = await self.services.stats()
            yield Event("stats", stats).encode()
            async for chunk in self._drain(queue):
                yield chunk
        finally:
            self._fleet.discard(queue)
            if not self._fleet:  # nobody watches: forget the snapshot, start afresh next time
                self._fleet_running, self._fleet_primed = {}, False

    async def _drain(self, queue: asyncio.Queue[Event]) -> AsyncIterator[bytes]:
        while not self._closed or not queue.empty():
            try:
                event = await asyncio.wait_for(queue.get(), self.ping_seconds)
            except TimeoutError:
                yield b": ping\n\n"
                continue
            if event is _END:
                return
            yield event.encode()

    # -- polling -----------------------------------------------------------------------------

    async def _tick(self) -> None:
        if self._watches:
            wanted = {job_id: min(w.log_after for w in ws) for job_id, ws in self._watches.items() if ws}
            results = await self.services.read(self._read_jobs, wanted)
            for job_id, (job, logs) in results.items():
                for watch in list(self._watches.get(job_id, ())):
                    watch.feed(job, logs)
        if self._fleet:
            for event in await self.services.read(self._read_fleet):
                for queue in list(self._fleet):
                    try:
                        queue.put_nowait(event)
                    except asyncio.QueueFull:
                        self._fleet.discard(queue)

    def _read_jobs(self, wanted: dict[str, int]) -> dict[str, tuple[Job | None, list[tuple[int, LogEntry]]]]:
        out: dict[str, tuple[Job | None, list[tuple[int, LogEntry]]]] = {}
        for job_id, after in wanted.items():
            job = self.store.job_get(JobGet(job_id))
            logs = self.store.log_tail(LogTail(job_id, after, LOG_BATCH)) if job is not None else []
            out[job_id] = (job, logs)
        return out

    def _read_fleet(self) -> list[Event]:
        """Jobs that are new, running, or left running since the last poll (a snapshot diff:
        a job that starts and finishes between two polls shows up once, as it ends)."""
        events: list[Event] = []
        running = self.store.job_list(JobList(status=JobStatus.RUNNING, limit=FLEET_RUNNING_LIMIT)).jobs
        newest = self.store.job_list(JobList(limit=FLEET_NEW_LIMIT)).jobs
        known = set(self._fleet_known)
        seen_now: dict[str, tuple[Any, ...]] = {}
        for job in running:
            key = (job.status.value, job.attempt, json.dumps(job.progress, sort_keys=True))
            seen_now[job.job_id] = key
            before = self._fleet_running.get(job.job_id)
            if before is None:
                events.append(Event("job", job.to_dict()))
            elif before[2] != key[2]:
                events.append(Event("progress", {"job_id": job.job_id, "status": "running", "progress": job.progress}))
        for job_id in list(self._fleet_running)[:FLEET_RUNNING_LIMIT]:
            if job_id not in seen_now:
                job = self.store.job_get(JobGet(job_id))
                if job is not None:
                    events.append(Event("job", job.to_dict()))
        for job in reversed(newest):
            if job.job_id not in known:
                self._fleet_known.append(job.job_id)
                if self._fleet_primed and job.job_id not in seen_now:
                    events.append(Event("job", job.to_dict()))
        self._fleet_running = seen_now
        self._fleet_primed = True
        return events


__all__ = ["Event", "EventHub"]
