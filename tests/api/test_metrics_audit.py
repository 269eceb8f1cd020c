"""Prometheus /metrics counts the work of workers in other processes; the audit log records every
operator action with who did it (a key's name, or "cli")."""

from __future__ import annotations

import re
import subprocess

from tests.api.conftest import EXAMPLES, Api, Process
from tests.conftest import PYTHON, python_env
from tests.helpers import wait_for


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_a_worker_process_work(api: Api, spawn: object, sqlite_url: str) -> None:
    worker: Process = spawn("worker", "--db", sqlite_url, "--app", EXAMPLES, "--queues", "default")  # type: ignore[operator]
    client = api.client(scope=None)
    for i in range(3):
        api.app.enqueue("echo", {"i": i})
    api.app.enqueue("fail", {})
    idle = api.app.enqueue("echo", {}, queue="nobody-serves-this")

    def counted() -> str | None:
        text = client.get("/metrics").text
        done = sample(text, "conveyor_jobs_completed_total", queue="default", job_type="echo")
        failed = sample(text, "conveyor_jobs_failed_total", queue="default", job_type="fail")
        return text if done == 3 and failed == 1 else None

    text = wait_for(counted, 30, 0.2, what="completed/failed counters to reach 3 and 1")
    assert worker.proc.poll() is None
    assert sample(text, "conveyor_jobs_enqueued_total", queue="default", job_type="echo") == 3
    assert sample(text, "conveyor_jobs", queue="default", job_type="echo", status="completed") == 3
    assert sample(text, "conveyor_queue_depth", queue=idle.queue) == 1
    age = sample(text, "conveyor_oldest_pending_age_seconds", queue=idle.queue)
    assert age is not None and age >= 0
    assert sample(text, "conveyor_job_duration_seconds_count", queue="default", job_type="echo") == 3
    assert sample(text, "conveyor_api_requests_total", method="GET", route="/metrics", status="200") is not None


def test_audit_log_records_api_and_cli_actions(api: Api, sqlite_url: str) -> None:
    writer, admin = api.client("write"), api.client("admin")
    job = api.app.enqueue("sleep", {"seconds": 60}, delay=3600)
    assert writer.post(f"/api/jobs/{job.job_id}/cancel").status_code == 200
    assert writer.post(f"/api/jobs/{job.job_id}/retry").status_code == 200
    assert admin.post(f"/api/jobs/{job.job_id}/cancel").status_code == 200
    assert admin.delete(f"/api/jobs/{job.job_id}").status_code == 200
    assert admin.post("/api/jobs/purge", json={"older_than_sec": 86400}).status_code == 200
    created = admin.post("/api/keys", json={"name": "made-over-http", "scope": "read"})
    assert created.status_code == 201 and created.json()["data"]["key"].startswith("cvk_")
    assert admin.delete("/api/keys/made-over-http").json()["data"][0]["revoked_at"] is not None

    cli = subprocess.run([PYTHON, "-m", "conveyor", "keys", "create", "--name", "from-cli", "--db", sqlite_url],
                         env=python_env(), capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip().splitlines()[-1].startswith("cvk_")

    entries = admin.get("/api/audit", params={"limit": 100}).json()["data"]["entries"]
    actions = [(e["actor"], e["action"], e["job_ids"]) for e in reversed(entries)]
    assert actions[-8:] == [
        ("test-write", "job.cancel", [job.job_id]),
        ("test-write", "job.retry", [job.job_id]),
        ("test-admin", "job.cancel", [job.job_id]),
        ("test-admin", "job.delete", [job.job_id]),
        ("test-admin", "jobs.purge", []),
        ("test-admin", "key.create", []),
        ("test-admin", "key.revoke", []),
        ("cli", "key.create", []),
    ]
    assert all(e["at"].endswith("Z") for e in entries)
    mine = admin.get("/api/audit", params={"job_id": job.job_id}).json()["data"]["entries"]
    assert len(mine) == 4
    first = admin.get("/api/audit", params={"limit": 2}).json()["data"]
    more = admin.get("/api/audit", params={"limit": 2, "cursor": first["next_cursor"]}).json()["data"]
    assert {e["seq"] for e in first["entries"]}.isdisjoint(e["seq"] for e in more["entries"])

    shown = subprocess.run([PYTHON, "-m", "conveyor", "audit", "--db", sqlite_url, "--actor", "cli", "--json"],
                           env=python_env(), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and '"key.create"' in shown.stdout and '"actor": "test-admin"' not in shown.stdout
