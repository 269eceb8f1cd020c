"""Live events (SSE) from jobs run by a worker in another process."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from tests.api.conftest import Api, Process
from tests.helpers import wait_for


def read_events(response: httpx.Response, until: str = "end", limit: int = 10_000) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
                if name == until or len(events) >= limit:
                    return events
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    return events


def test_job_stream_delivers_progress_then_terminal(api: Api, worker: Process) -> None:
    client = api.client("read")
    job = api.app.enqueue("progress", {"steps": 4, "step_seconds": 0.25})
    with client.stream("GET", f"/api/jobs/{job.job_id}/events", timeout=httpx.Timeout(30)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "end" and events[-1][1]["status"] == "completed"
    statuses = [data["status"] for name, data in events if name == "job"]
    assert statuses[0] in ("pending", "running") and statuses[-1] == "completed" and "running" in statuses
    percents = [data["progress"]["percent"] for name, data in events if name == "progress"]
    assert len(percents) >= 3 and percents == sorted(percents) and percents[-1] == 100
    last_progress = max(i for i, n in enumerate(names) if n == "progress")
    terminal = names.index("job", last_progress) if "job" in names[last_progress:] else -1
    assert terminal > last_progress, names  # progress first, then the terminal job event
    logs = [data["message"] for name, data in events if name == "log"]
    assert logs == ["starting 4 steps", "all steps done"]


def test_job_stream_of_a_finished_job_ends_at_once(api: Api) -> None:
    job = api.app.enqueue("echo", {})
    api.app.cancel(job.job_id)
    with api.client("read").stream("GET", f"/api/jobs/{job.job_id}/events") as response:
        events = read_events(response)
    assert [n for n, _ in events][-2:] == ["job", "end"] and events[-1][1]["status"] == "cancelled"


def test_job_stream_of_an_unknown_job_is_404(api: Api) -> None:
    response = api.client("read").get("/api/jobs/nope/events")
    assert response.status_code == 404 and response.json()["error"]["code"] == "JOB_NOT_FOUND"


def test_cancel_over_the_api_ends_a_watched_stream(api: Api) -> None:
    job = api.app.enqueue("sleep", {"seconds": 60}, delay=3600)
    got: list[list[tuple[str, dict[str, Any]]]] = []

    def watch() -> None:
        with api.client("read").stream("GET", f"/api/jobs/{job.job_id}/events") as response:
            got.append(read_events(response))

    thread = threading.Thread(target=watch)
    thread.start()
    wait_for(lambda: api.app.get(job.job_id), 5)
    assert api.client("write").post(f"/api/jobs/{job.job_id}/cancel").status_code == 200
    thread.join(15)
    assert not thread.is_alive() and got[0][-1] == ("end", {"job_id": job.job_id, "status": "cancelled"})


def test_fleet_stream_sees_jobs_of_another_process(api: Api, worker: Process) -> None:
    client = api.client("read")
    seen: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", "/api/events", timeout=httpx.Timeout(30)) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        name, data = "message", []
        job_id = None
        deadline = time.monotonic() + 30
        for line in lines:
            assert time.monotonic() < deadline, f"no completed event for {job_id} in 30 s: {seen}"
            if line == "" and data:
                seen.append((name, json.loads("\n".join(data))))
                name, data = "message", []
                if job_id is None and seen[0][0] == "stats":
                    job_id = api.app.enqueue("sleep", {"seconds": 0.5}).job_id  # after we listen
                if any(n == "job" and d.get("job_id") == job_id and d["status"] == "completed" for n, d in seen):
                    break
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
    assert seen[0][0] == "stats" and "by_status" in seen[0][1]
    mine = [d["status"] for n, d in seen if n == "job" and d.get("job_id") == job_id]
    assert "running" in mine and mine[-1] == "completed"
