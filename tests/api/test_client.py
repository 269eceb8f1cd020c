"""`conveyor.Client` / `AsyncClient` against a real server and a worker in another process."""

from __future__ import annotations

import asyncio
import re

import pytest

from conveyor import ApiError, AsyncClient, Client, JobStatus, WaitTimeout
from tests.api.conftest import Api, Process, free_port


def request_count(api: Api, method: str, route: str) -> float:
    text = api.client(scope=None).get("/metrics").text
    pattern = rf'conveyor_api_requests_total\{{method="{method}",route="{re.escape(route)}",status="\d+"\}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def test_client_round_trip(api: Api, worker: Process) -> None:
    with Client(api.base_url, api.keys["write"]) as client:
        job = client.enqueue("progress", {"steps": 3, "step_seconds": 0.1}, priority=7, metadata={"who": "test"})
        assert job.status is JobStatus.PENDING and job.priority == 7 and job.metadata == {"who": "test"}
        gets_before = request_count(api, "GET", "/api/jobs/{job_id}")
        done = client.wait(job.job_id, timeout=30)
        assert done.status is JobStatus.COMPLETED and done.results == {"steps": 3}
        assert done.finished_at is not None and done.duration is not None
        assert request_count(api, "GET", "/api/jobs/{job_id}") == gets_before  # waited over SSE, no polling
        assert request_count(api, "GET", "/api/jobs/{job_id}/events") >= 1

        assert client.get(job.job_id).status is JobStatus.COMPLETED
        assert [entry.message for entry in client.logs(job.job_id)] == ["starting 3 steps", "all steps done"]
        page = client.list(status="completed", limit=10)
        assert job.job_id in [j.job_id for j in page.jobs]
        assert client.stats()["by_status"]["completed"] >= 1

        later = client.enqueue("sleep", {"seconds": 1}, delay=3600)
        assert later.status is JobStatus.SCHEDULED
        assert client.cancel(later.job_id).status is JobStatus.CANCELLED
        assert client.retry(later.job_id).status is JobStatus.PENDING

        batch = client.enqueue_batch([("echo", {"i": 1}), ("echo", {"i": 2}, {"queue": "q"})])
        assert len(batch.jobs) == 2 and all(j.parent_id == batch.parent.job_id for j in batch.jobs)

        with pytest.raises(ApiError) as bad:
            client.enqueue("sleep", {"seconds": "x"})
        assert bad.value.status == 422 and bad.value.code == "INVALID_PARAMETERS" and bad.value.field == "seconds"
        with pytest.raises(ApiError) as forbidden:
            client.delete(later.job_id)  # a write key cannot delete
        assert forbidden.value.status == 403
        with pytest.raises(ApiError) as missing:
            client.wait("no-such-job", timeout=5)
        assert missing.value.status == 404


def test_wait_times_out_with_the_job_as_last_seen(api: Api) -> None:
    with Client(api.base_url, api.keys["read"]) as client:
        job = api.app.enqueue("sleep", {"seconds": 60}, delay=3600)
        with pytest.raises(WaitTimeout) as timeout:
            client.wait(job.job_id, timeout=0.5)
        assert timeout.value.job.job_id == job.job_id and timeout.value.job.status is JobStatus.SCHEDULED


def test_async_client_round_trip(api: Api, worker: Process) -> None:
    async def scenario() -> None:
        async with AsyncClient(api.base_url, api.keys["admin"]) as client:
            job = await client.enqueue("echo", {"hello": "world"}, idempotency_key="k-1")
            again = await client.enqueue("echo", {"hello": "world"}, idempotency_key="k-1")
            assert again.job_id == job.job_id
            done = await client.wait(job.job_id, timeout=30)
            assert done.status is JobStatus.COMPLETED and done.results == {"echo": {"hello": "world"}}
            await client.delete(job.job_id)
            with pytest.raises(ApiError) as gone:
                await client.get(job.job_id)
            assert gone.value.code == "JOB_NOT_FOUND"
            slow = await client.enqueue("sleep", {"seconds": 60}, delay=3600)
            with pytest.raises(WaitTimeout):
                await client.wait(slow.job_id, timeout=0.3)

    asyncio.run(scenario())


def test_unreachable_server_and_bad_key_are_clear_errors(api: Api) -> None:
    with Client(f"http://127.0.0.1:{free_port()}", "cvk_x", timeout=2) as dead, pytest.raises(ApiError) as down:
        dead.stats()
    assert down.value.status == 0 and down.value.code == "CONNECTION_ERROR"
    with Client(api.base_url, "cvk_wrong") as client, pytest.raises(ApiError) as refused:
        client.stats()
    assert refused.value.status == 401 and refused.value.code == "UNAUTHORIZED"
