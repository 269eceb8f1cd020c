"""The seed system's curl flow, as written: POST /api/jobs/ with job_type + parameters, then GET,
with a worker in another process running the job — on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Api, Process
from tests.helpers import wait_for
from tests.postgres_helpers import STORES, store_url_for


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    with store_url_for(request.param, sqlite_url, "api") as url:
        yield url


def test_post_then_get_until_completed(api: Api, worker: Process) -> None:
    headers = {**api.headers("write"), "Content-Type": "application/json"}
    created = httpx.post(f"{api.base_url}/api/jobs/", headers=headers,
                         content=b'{"job_type": "echo", "parameters": {"filename": "a.pdf"}}')
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "success"
    job = body["data"]
    assert job["job_type"] == "echo" and job["status"] == "pending" and job["parameters"] == {"filename": "a.pdf"}
    assert set(job) >= {"job_id", "queue", "priority", "progress", "results", "error", "attempt", "max_attempts",
                        "created_at", "run_at", "started_at", "finished_at", "parent_id", "depends_on",
                        "idempotency_key", "metadata"}

    def fetched() -> dict[str, object] | None:
        got = httpx.get(f"{api.base_url}/api/jobs/{job['job_id']}", headers=api.headers("read"))
        assert got.status_code == 200, got.text
        data: dict[str, object] = got.json()["data"]
        return data if data["status"] == "completed" else None

    done = wait_for(fetched, 30, 0.05, what="the worker process to complete the job")
    assert done["results"] == {"echo": {"filename": "a.pdf"}}
    assert done["attempt"] == 1 and done["finished_at"] and isinstance(done["logs"], list)
    assert str(done["created_at"]).endswith("Z")


def test_unknown_route_and_method_keep_the_error_shape(api: Api) -> None:
    missing = httpx.get(f"{api.base_url}/api/nope", headers=api.headers())
    assert missing.status_code == 404 and missing.json()["status"] == "error"
    wrong = httpx.put(f"{api.base_url}/api/jobs/abc", headers=api.headers())
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
