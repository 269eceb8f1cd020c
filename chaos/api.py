"""API scenario: a stream of concurrent POST /api/jobs/ to a `conveyor serve` process that is
SIGKILLed mid-stream and started again; afterwards every job that got a 201 must be in the store."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conveyor import Conveyor

from .procs import APP, ConveyorProcess, free_port, run_cli, wait_until
from .report import Row, ScenarioReport, check, info
from .stores import StoreTarget


@dataclass(frozen=True, slots=True)
class ApiConfig:
    requests: int = 10_000  # stop once this many POSTs were acknowledged (201)
    clients: int = 32  # concurrent requests in flight
    kill_at: float = 0.5  # SIGKILL the server once this fraction is acknowledged
    down_seconds: float = 0.5  # leave it dead this long before starting it again
    deadline_seconds: float = 180.0


@dataclass(slots=True)
class Stream:
    """What the clients saw, by request number `i` (sent as parameters.i)."""

    acked: dict[int, str] = field(default_factory=dict)  # i -> job_id from the 201 body
    ambiguous: set[int] = field(default_factory=set)  # sent, but the connection died before an answer
    refused: int = 0  # connection refused: nothing was sent
    statuses: Counter[int] = field(default_factory=Counter)  # every HTTP answer's status
    acked_after_restart: int = 0
    restarted_at: float | None = None
    first_ack_after_restart: float | None = None
    stop: bool = False


def create_key(folder: Path, db_url: str) -> tuple[str | None, str]:
    """A write-scoped key from `conveyor keys create` (last stdout line), or (None, the error)."""
    done = run_cli(folder, ["keys", "create", "--name", "chaos", "--scope", "write", "--db", db_url, "--app", APP])
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return None, lines[-1] if lines else f"exit code {done.returncode}"
    return done.stdout.strip().splitlines()[-1], ""


def start_server(folder: Path, db_url: str, port: int, n: int) -> ConveyorProcess:
    server = ConveyorProcess(folder, f"server-{n}", ["serve", "--db", db_url, "--app", APP, "--port", str(port)])
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not server.alive():
            raise RuntimeError(f"conveyor serve exited: {server.output()[-500:]}")
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, 30, "the API server to answer /health", interval=0.05)
    return server


async def _client(http: httpx.AsyncClient, numbers: itertools.count[int], stream: Stream) -> None:
    while not stream.stop:
        i = next(numbers)
        body = {"job_type": "record", "parameters": {"i": i, "ms": 1}}
        try:
            response = await http.post("/api/jobs/", json=body)
        except httpx.ConnectError:
            stream.refused += 1
            await asyncio.sleep(0.01)  # the server is down: don't spin
            continue
        except httpx.TransportError:
            stream.ambiguous.add(i)
            continue
        stream.statuses[response.status_code] += 1
        if response.status_code == 201:
            stream.acked[i] = response.json()["data"]["job_id"]
            if stream.restarted_at is not None:
                stream.acked_after_restart += 1
                stream.first_ack_after_restart = stream.first_ack_after_restart or time.monotonic()


async def _stream(base: str, key: str, config: ApiConfig, stream: Stream, chaos: Callable[[], None]) -> None:
    limits = httpx.Limits(max_connections=config.clients, max_keepalive_connections=config.clients)
    headers = {"Authorization": f"Bearer {key}"}
    numbers = itertools.count()
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        clients = [asyncio.create_task(_client(http, numbers, stream)) for _ in range(config.clients)]
        deadline = time.monotonic() + config.deadline_seconds
        try:
            while len(stream.acked) < config.requests and time.monotonic() < deadline:
                if any(task.done() for task in clients):
                    break  # a client crashed: its exception surfaces below
                chaos()
                await asyncio.sleep(0.01)
        finally:
            stream.stop = True
            await asyncio.gather(*clients)


def run_api(folder: Path, target: StoreTarget, config: ApiConfig) -> ScenarioReport:
    folder.mkdir(parents=True, exist_ok=True)
    report = ScenarioReport("api", target.label, f"API kill -9 · {target.label} · {config.requests:,} POSTs")
    key, why = create_key(folder, target.url)
    if key is None:
        report.skipped = f"`conveyor keys create` failed on this store: {why}"
        return report
    port = free_port()
    servers = [start_server(folder, target.url, port, 0)]
    stream = Stream()
    killed_at: list[float] = []

    def chaos() -> None:
        if not killed_at and len(stream.acked) >= config.kill_at * config.requests:
            servers[-1].kill9()
            killed_at.append(time.monotonic())
        elif killed_at and stream.restarted_at is None and time.monotonic() - killed_at[0] >= config.down_seconds:
            stream.restarted_at = time.monotonic()
            servers.append(start_server(folder, target.url, port, 1))  # blocks the loop: clients wait

    try:
        asyncio.run(_stream(f"http://127.0.0.1:{port}", key, config, stream, chaos))
    finally:
        for server in servers:
            server.stop()
    report.rows = _verify(target, stream, killed_at)
    return report


def _stored_by_i(target: StoreTarget) -> dict[int, list[str]]:
    app = Conveyor(target.url)
    try:
        found: dict[int, list[str]] = {}
        cursor = None
        while True:
            page = app.list(limit=1000, cursor=cursor)
            for job in page.jobs:
                found.setdefault(int(job.parameters["i"]), []).append(job.job_id)
            cursor = page.next_cursor
            if cursor is None:
                return found
    finally:
        app.close()


def _verify(target: StoreTarget, stream: Stream, killed_at: list[float]) -> list[Row]:
    stored = _stored_by_i(target)
    lost = [i for i, job_id in stream.acked.items() if job_id not in stored.get(i, [])]
    doubled = [i for i, ids in stored.items() if len(ids) > 1]
    ambiguous_stored = sum(1 for i in stream.ambiguous if i in stored)
    unexplained = [i for i in stored if i not in stream.acked and i not in stream.ambiguous]
    errors_5xx = sum(n for status, n in stream.statuses.items() if status >= 500)
    other = {s: n for s, n in stream.statuses.items() if s != 201}
    rows = [
        info("server SIGKILLed mid-stream, then restarted", "yes" if killed_at and stream.restarted_at else "no"),
        check("acknowledged (201) after the restart", stream.acked_after_restart, 1, at_most=False),
        info("acknowledged (201)", f"{len(stream.acked):,}"),
        check("lost: acknowledged jobs missing from the store", len(lost), 0),
        check("jobs stored twice for one request", len(doubled), 0),
        check("stored jobs no request can explain", len(unexplained), 0),
        info("requests cut off by the kill (no answer)",
             f"{len(stream.ambiguous)} ({ambiguous_stored} of them stored)"),
        info("connections refused while the server was down", f"{stream.refused:,}"),
        check("HTTP 5xx answers", errors_5xx, 0),
        info("other answers", ", ".join(f"{s} ×{n}" for s, n in sorted(other.items())) or "none"),
    ]
    if killed_at and stream.restarted_at and stream.first_ack_after_restart:
        rows.append(info("server start → first 201", f"{stream.first_ack_after_restart - stream.restarted_at:.2f} s"))
        rows.append(info("kill → first 201 (includes the deliberate "
                         f"{stream.restarted_at - killed_at[0]:.1f} s down)",
                         f"{stream.first_ack_after_restart - killed_at[0]:.2f} s"))
    return rows
