"""The API as a real process: kill -9 in the middle of 1,000 concurrent POSTs loses no
acknowledged job; `conveyor up` on a fresh folder serves HTTP and runs what it is sent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conveyor import Conveyor, JobStatus
from conveyor.apikeys import ApiKeys
from conveyor.store.params import JobGet
from tests.api.conftest import EXAMPLES, Process, free_port
from tests.conftest import PYTHON, python_env
from tests.helpers import wait_for

pytestmark = pytest.mark.slow


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def raw_post(port: int, key: str, body: bytes) -> tuple[int, bytes] | None:
    """One POST on its own connection, in plain HTTP/1.1: a client this cheap lets 1,000 requests
    really be in flight at once. None when the connection fails or the answer is cut off."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (f"POST /api/jobs/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        writer.write(head.encode() + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        status = int(data.split(b" ", 2)[1])
        return status, data.split(b"\r\n\r\n", 1)[1]
    except (OSError, IndexError, ValueError, TimeoutError):
        return None


async def post_many(port: int, key: str, total: int, kill_after: int, proc: Process) -> tuple[list[str], int]:
    """`total` POSTs, 100 concurrently; SIGKILL the server once `kill_after` have been acknowledged.
    Returns the ids of the jobs that got a 201, and how many requests got no answer."""
    acked: list[str] = []
    failed = 0
    # 100 in flight at a time: the stream is still going when the kill lands (with all 1,000 sent
    # at once, one group commit could acknowledge them all before the kill).
    in_flight = asyncio.Semaphore(100)

    async def one(i: int) -> None:
        nonlocal failed
        async with in_flight:
            answer = await raw_post(port, key, json.dumps({"job_type": "echo", "parameters": {"i": i}}).encode())
        if answer is None:
            failed += 1
            return
        status, body = answer
        if status == 201:
            acked.append(json.loads(body)["data"]["job_id"])
            if len(acked) == kill_after:
                os.kill(proc.proc.pid, signal.SIGKILL)

    await asyncio.gather(*(one(i) for i in range(total)))
    return acked, failed


def test_kill9_during_1000_concurrent_posts_keeps_every_acknowledged_job(
    sqlite_url: str, spawn: Callable[..., Process]
) -> None:
    with Conveyor(sqlite_url) as app:
        key = ApiKeys(app).create("loader", "write")[1]
    port = free_port()
    server = spawn("serve", "--db", sqlite_url, "--app", EXAMPLES, "--port", str(port))
    base_url = f"http://127.0.0.1:{port}"
    wait_for(lambda: healthy(base_url) or server.proc.poll() is not None, 30, 0.05, what="the API server")
    assert server.proc.poll() is None, server.output()

    acked, failed = asyncio.run(post_many(port, key, total=1000, kill_after=150, proc=server))
    assert server.proc.wait(10) == -signal.SIGKILL
    assert len(acked) >= 150 and failed > 0, f"{len(acked)} acknowledged, {failed} failed: no kill mid-stream"
    with Conveyor(sqlite_url) as app:
        missing = [job_id for job_id in acked if app.store.job_get(JobGet(job_id)) is None]
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged jobs are gone"
        assert app.stats()["total_jobs"] >= len(acked)


def test_conveyor_up_on_a_fresh_folder(tmp_path: Path, spawn: Callable[..., Process]) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    port = free_port()
    up = spawn("up", "--port", str(port), cwd=folder)
    base_url = f"http://127.0.0.1:{port}"
    wait_for(lambda: healthy(base_url) or up.proc.poll() is not None, 30, 0.05, what="conveyor up")
    assert up.proc.poll() is None, up.output()
    wait_for(lambda: "keys create" in up.output(), 10, what="the startup banner")
    banner = up.output()
    assert base_url in banner and "conveyor keys create --name me --scope admin" in banner
    assert (folder / "conveyor.db").exists()

    created = subprocess.run([PYTHON, "-m", "conveyor", "keys", "create", "--name", "tester", "--scope", "write"],
                             cwd=folder, env=python_env(), capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cvk_")

    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.post(f"{base_url}/api/jobs/", headers=headers,
                          json={"job_type": "echo", "parameters": {"from": "curl"}}, timeout=10)
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["job_id"]

    def completed() -> dict[str, object] | None:
        data: dict[str, object] = httpx.get(f"{base_url}/api/jobs/{job_id}", headers=headers, timeout=10).json()["data"]
        return data if data["status"] == JobStatus.COMPLETED.value else None

    done = wait_for(completed, 30, 0.05, what="conveyor up's worker to run the job")
    assert done["results"] == {"echo": {"from": "curl"}}

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(30) == 0, up.output()
    assert not healthy(base_url)


def test_serve_refuses_a_busy_port_with_one_line(sqlite_url: str, spawn: Callable[..., Process]) -> None:
    port = free_port()
    first = spawn("serve", "--db", sqlite_url, "--port", str(port))
    wait_for(lambda: healthy(f"http://127.0.0.1:{port}") or first.proc.poll() is not None, 30, 0.05)
    second = subprocess.run([PYTHON, "-m", "conveyor", "serve", "--db", sqlite_url, "--port", str(port)],
                            env=python_env(), capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert "Error: cannot serve on" in second.stderr and "Traceback" not in second.stderr
