"""`Client` and `AsyncClient`: Conveyor's HTTP API from Python, in another process or machine.

Each operation is described once (`_Call`: method, path, body, how to read the answer); the two
clients only send it, one with `httpx.Client`, the other with `httpx.AsyncClient`. `wait()`
follows the job's Server-Sent Events instead of polling.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypedDict, TypeVar
from urllib.parse import quote

import httpx
from typing_extensions import Unpack

from .app import WaitTimeout
from .errors import ConveyorError
from .job import Job, JobId, LogEntry
from .status import JobStatus

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0


class ApiError(ConveyorError):
    """The server refused a request (`status` 4xx/5xx, `code` from the error body), or could not
    be reached (`status` 0, code `CONNECTION_ERROR`). `field` names the bad input, if any."""

    code = "API_ERROR"

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.field: str | None = self.details.get("field")


class EnqueueOptions(TypedDict, total=False):
    queue: str
    priority: int
    delay: float | timedelta
    run_at: datetime | str
    max_attempts: int
    timeout: float | timedelta
    idempotency_key: str
    depends_on: Sequence[str]
    webhook: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Batch:
    parent: Job
    jobs: list[Job]


@dataclass(frozen=True, slots=True)
class Event:
    """One Server-Sent Event: `name` (job, progress, log, end, stats, error) and its JSON data."""

    name: str
    data: dict[str, Any]


# -- the wire: JSON in, typed values out ----------------------------------------------------------


def _ts(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def job_from_dict(d: dict[str, Any]) -> Job:
    """A `Job` from its SPEC §4 JSON."""
    return Job(
        job_id=JobId(d["job_id"]), job_type=d["job_type"], queue=d["queue"], status=JobStatus(d["status"]),
        priority=d["priority"], parameters=d.get("parameters") or {}, progress=d.get("progress"),
        results=d.get("results"), error=d.get("error"), attempt=d["attempt"], max_attempts=d["max_attempts"],
        created_at_ts=_ts(d["created_at"]) or 0.0, run_at_ts=_ts(d["run_at"]) or 0.0,
        started_at_ts=_ts(d.get("started_at")), finished_at_ts=_ts(d.get("finished_at")),
        parent_id=JobId(d["parent_id"]) if d.get("parent_id") else None,
        depends_on=tuple(JobId(x) for x in d.get("depends_on") or ()), idempotency_key=d.get("idempotency_key"),
        metadata=d.get("metadata") or {},
    )


def _log_from_dict(d: dict[str, Any]) -> LogEntry:
    return LogEntry(_ts(d["timestamp"]) or 0.0, d["level"], d["message"])


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def submit_body(job_type: str, parameters: dict[str, Any] | None, options: EnqueueOptions) -> dict[str, Any]:
    """The POST /api/jobs/ body for `enqueue(job_type, parameters, **options)`."""
    body: dict[str, Any] = {"job_type": job_type, "parameters": parameters or {}}
    for name in ("queue", "priority", "max_attempts", "idempotency_key", "webhook", "metadata"):
        if options.get(name) is not None:
            body[name] = options[name]
    if options.get("delay") is not None:
        body["delay_sec"] = _seconds(options["delay"])
    if options.get("timeout") is not None:
        body["timeout_sec"] = _seconds(options["timeout"])
    run_at = options.get("run_at")
    if run_at is not None:
        body["run_at"] = run_at.isoformat() if isinstance(run_at, datetime) else run_at
    if options.get("depends_on"):
        body["depends_on"] = list(options["depends_on"])
    return body


def _unwrap(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise ApiError(response.status_code, str(error.get("code", "HTTP_ERROR")),
                           str(error.get("message", "")), error.get("details") or {})
        raise ApiError(response.status_code, "HTTP_ERROR", response.text[:200] or response.reason_phrase)
    return body["data"]


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _path(job_id: str, suffix: str = "") -> str:
    return f"/api/jobs/{quote(str(job_id), safe='')}{suffix}"


def _enqueue(job_type: str, parameters: dict[str, Any] | None, options: EnqueueOptions) -> _Call[Job]:
    return _Call("POST", "/api/jobs/", job_from_dict, json=submit_body(job_type, parameters, options))


def _batch(jobs: Sequence[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], EnqueueOptions]]) -> _Call[Batch]:
    items = [submit_body(item[0], item[1], item[2] if len(item) > 2 else {}) for item in jobs]
    return _Call("POST", "/api/jobs/batch", lambda d: Batch(job_from_dict(d["parent"]),
                                                               [job_from_dict(j) for j in d["jobs"]]),
                 json={"jobs": items})


def _list(status: JobStatus | str | None, job_type: str | None, queue: str | None, limit: int,
          cursor: str | None) -> _Call[Page]:
    params = {"status": str(status) if status is not None else None, "job_type": job_type, "queue": queue,
              "limit": limit, "cursor": cursor}
    return _Call("GET", "/api/jobs", lambda d: Page([job_from_dict(j) for j in d["jobs"]], d["next_cursor"]),
                 params={k: v for k, v in params.items() if v is not None})


def _job_call(method: str, job_id: str, suffix: str = "") -> _Call[Job]:
    return _Call(method, _path(job_id, suffix), job_from_dict)


def _logs(job_id: str) -> _Call[list[LogEntry]]:
    return _Call("GET", _path(job_id), lambda d: [_log_from_dict(x) for x in d.get("logs", [])])


def _delete(job_id: str) -> _Call[None]:
    return _Call("DELETE", _path(job_id), lambda d: None)


def _stats() -> _Call[dict[str, Any]]:
    return _Call("GET", "/api/stats", dict)


class _SSEParser:
    def __init__(self) -> None:
        self.name = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> Event | None:
        if line == "":
            if not self.data:
                self.name = "message"
                return None
            event = Event(self.name, json.loads("\n".join(self.data)))
            self.name, self.data = "message", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self.name = value
        elif name == "data":
            self.data.append(value)
        return None


def _terminal(event: Event) -> Job | None:
    if event.name == "job":
        job = job_from_dict(event.data)
        return job if job.status.is_terminal else None
    if event.name == "error":
        raise ApiError(404, str(event.data.get("code", "JOB_NOT_FOUND")), str(event.data.get("message", "")))
    return None


def _connection_error(exc: httpx.TransportError) -> ApiError:
    return ApiError(0, "CONNECTION_ERROR", f"{type(exc).__name__}: {exc}")


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


# -- the two clients ------------------------------------------------------------------------------


class AsyncClient:
    """`async with AsyncClient("http://127.0.0.1:8000", api_key) as client: await client.enqueue(…)`"""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 http: httpx.AsyncClient | None = None) -> None:
        self._timeout = timeout
        self._http = http or httpx.AsyncClient(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    async def _do(self, call: _Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, json=call.json, params=call.params,
                                                headers=call.headers)
        except httpx.TransportError as exc:
            raise _connection_error(exc) from exc
        return call.parse(_unwrap(response))

    async def enqueue(
        self, job_type: str, parameters: dict[str, Any] | None = None, **options: Unpack[EnqueueOptions]
    ) -> Job:
        """Submit a job (options as in `Conveyor.enqueue`); durable once this returns."""
        return await self._do(_enqueue(job_type, parameters, options))

    async def enqueue_batch(self, jobs: Sequence[Any]) -> Batch:
        """`[(job_type, params), (job_type, params, options), …]` → a parent job and its children."""
        return await self._do(_batch(jobs))

    async def get(self, job_id: str) -> Job:
        return await self._do(_job_call("GET", job_id))

    async def logs(self, job_id: str) -> list[LogEntry]:
        return await self._do(_logs(job_id))

    async def list(self, status: JobStatus | str | None = None, job_type: str | None = None,
                   queue: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return await self._do(_list(status, job_type, queue, limit, cursor))

    async def cancel(self, job_id: str) -> Job:
        return await self._do(_job_call("POST", job_id, "/cancel"))

    async def retry(self, job_id: str) -> Job:
        return await self._do(_job_call("POST", job_id, "/retry"))

    async def delete(self, job_id: str) -> None:
        await self._do(_delete(job_id))

    async def stats(self) -> dict[str, Any]:
        return await self._do(_stats())

    async def events(self, job_id: str) -> AsyncIterator[Event]:
        """The job's live events until it is terminal (the stream then ends)."""
        timeout = httpx.Timeout(self._timeout, read=None)
        try:
            async with self._http.stream("GET", _path(job_id, "/events"), timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    _unwrap(response)
                parser = _SSEParser()
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.TransportError as exc:
            raise _connection_error(exc) from exc

    async def wait(self, job_id: str, timeout: float = 30.0) -> Job:
        """The job once terminal, followed live over SSE (reconnecting if the stream drops);
        `WaitTimeout` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    async for event in self.events(job_id):
                        job = _terminal(event)
                        if job is not None:
                            return job
            except TimeoutError:
                raise WaitTimeout(await self.get(job_id), timeout) from None
            except ApiError as exc:
                if exc.status != 0:
                    raise
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Client:
    """`with Client("http://127.0.0.1:8000", api_key) as client: client.enqueue("pdf", {...})`"""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 http: httpx.Client | None = None) -> None:
        self._timeout = timeout
        self._http = http or httpx.Client(base_url=base_url, headers=_headers(api_key), timeout=timeout)

    def _do(self, call: _Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, json=call.json, params=call.params,
                                          headers=call.headers)
        except httpx.TransportError as exc:
            raise _connection_error(exc) from exc
        return call.parse(_unwrap(response))

    def enqueue(
        self, job_type: str, parameters: dict[str, Any] | None = None, **options: Unpack[EnqueueOptions]
    ) -> Job:
        """Submit a job (options as in `Conveyor.enqueue`); durable once this returns."""
        return self._do(_enqueue(job_type, parameters, options))

    def enqueue_batch(self, jobs: Sequence[Any]) -> Batch:
        """`[(job_type, params), (job_type, params, options), …]` → a parent job and its children."""
        return self._do(_batch(jobs))

    def get(self, job_id: str) -> Job:
        return self._do(_job_call("GET", job_id))

    def logs(self, job_id: str) -> list[LogEntry]:
        return self._do(_logs(job_id))

    def list(self, status: JobStatus | str | None = None, job_type: str | None = None,
             queue: str | None = None, limit: int = 50, cursor: str | None = None) -> Page:
        return self._do(_list(status, job_type, queue, limit, cursor))

    def cancel(self, job_id: str) -> Job:
        return self._do(_job_call("POST", job_id, "/cancel"))

    def retry(self, job_id: str) -> Job:
        return self._do(_job_call("POST", job_id, "/retry"))

    def delete(self, job_id: str) -> None:
        self._do(_delete(job_id))

    def stats(self) -> dict[str, Any]:
        return self._do(_stats())

    def events(self, job_id: str, read_timeout: float | None = None) -> Iterator[Event]:
        """The job's live events until it is terminal (the stream then ends)."""
        timeout = httpx.Timeout(self._timeout, read=read_timeout)
        try:
            with self._http.stream("GET", _path(job_id, "/events"), timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    _unwrap(response)
                parser = _SSEParser()
                for line in response.iter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.TransportError as exc:
            raise _connection_error(exc) from exc

    def wait(self, job_id: str, timeout: float = 30.0) -> Job:
        """The job once terminal, followed live over SSE (reconnecting if the stream drops);
        `WaitTimeout` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(self.get(job_id), timeout)
            try:
                for event in self.events(job_id, read_timeout=remaining):
                    job = _terminal(event)
                    if job is not None:
                        return job
                    if time.monotonic() >= deadline:
                        break
            except ApiError as exc:
                if exc.status != 0:
                    raise
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ApiError", "AsyncClient", "Batch", "Client", "EnqueueOptions", "Event", "Page", "job_from_dict"]
