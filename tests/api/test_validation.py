"""Edge validation: every bad input is a 4xx with the error shape and names what is wrong."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conveyor.status import JobStatus
from tests.api.conftest import Api


def post(api: Api, body: Any, path: str = "/api/jobs/", scope: str = "write", **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**api.headers(scope), "Content-Type": "application/json", **kwargs.pop("headers", {})}
    return httpx.post(f"{api.base_url}{path}", content=content, headers=headers, timeout=30, **kwargs)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def test_unknown_job_type_is_422_naming_it(api: Api) -> None:
    error = error_of(post(api, {"job_type": "no_such_type", "parameters": {}}), 422)
    assert error["code"] == "UNKNOWN_JOB_TYPE"
    assert "no_such_type" in error["message"] and error["details"]["field"] == "job_type"


def test_invalid_parameters_are_422_naming_the_field(api: Api) -> None:
    error = error_of(post(api, {"job_type": "sleep", "parameters": {"seconds": "lots"}}), 422)
    assert error["code"] == "INVALID_PARAMETERS" and error["details"]["field"] == "seconds"
    error = error_of(post(api, {"job_type": "progress", "parameters": {"steps": 0}}), 422)
    assert error["details"]["field"] == "steps"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "echo", "priority": 11}, "priority"),
        ({"job_type": "echo", "delay_sec": -1}, "delay_sec"),
        ({"job_type": "echo", "run_at": "yesterday"}, "run_at"),
        ({"job_type": "echo", "run_at": "1900-01-01T00:00:00Z"}, "run_at"),
        ({"job_type": "echo", "max_attempts": 0}, "max_attempts"),
        ({"job_type": "echo", "parameters": []}, "parameters"),
        ({"job_type": "echo", "surprise": 1}, "surprise"),
        ({"parameters": {}}, "job_type"),
        ({"job_type": "echo", "delay_sec": 5, "run_at": "2030-01-01T00:00:00Z"}, "run_at"),
    ],
)
def test_bad_options_are_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    error = error_of(post(api, body), 422)
    assert error["details"]["field"] == field, error


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"job_type": "echo",', 400, "INVALID_JSON"),
        (b"\xff\xfe", 400, "INVALID_JSON"),
        (b'{"job_type": "echo", "parameters": {"x": NaN}}', 422, "INVALID_JSON"),
        (b'{"job_type": "echo", "parameters": {"x": "\\ud800"}}', 422, "INVALID_JSON"),
        (b'"just a string"', 422, "VALIDATION_ERROR"),
        (b"", 422, "VALIDATION_ERROR"),
    ],
)
def test_malformed_bodies_are_4xx(api: Api, content: bytes, status: int, code: str) -> None:
    assert error_of(post(api, content), status)["code"] == code


def test_body_size_limit_is_413(api: Api) -> None:
    big = {"job_type": "echo", "parameters": {"blob": "x" * (1 << 20)}}
    assert error_of(post(api, big), 413)["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Any:  # no Content-Length: the limit still holds while streaming
        for _ in range(40):
            yield b" " * 65536

    streamed = httpx.post(f"{api.base_url}/api/jobs/", content=chunks(), headers=api.headers("write"), timeout=30)
    assert error_of(streamed, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_nesting_limit_is_422(api: Api) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = {"a": deep}
    error = error_of(post(api, {"job_type": "echo", "parameters": deep}), 422)
    assert error["code"] == "TOO_DEEP"
    very_deep = b'{"job_type": "echo", "parameters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert error_of(post(api, very_deep), 422)["code"] == "TOO_DEEP"
    shallow = {"job_type": "echo", "parameters": {"a": {"b": {"c": [1, [2, [3]]]}}}}
    assert post(api, shallow).status_code == 201


def test_idempotency_key_in_body_and_header(api: Api) -> None:
    first = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}, "idempotency_key": "order-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}, "idempotency_key": "order-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"]["job_id"] == first.json()["data"]["job_id"]

    by_header = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}}, headers={"Idempotency-Key": "order-2"})
    replay = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}}, headers={"Idempotency-Key": "order-2"})
    assert by_header.json()["data"]["idempotency_key"] == "order-2"
    assert replay.json()["data"]["job_id"] == by_header.json()["data"]["job_id"]
    assert replay.headers["Idempotent-Replayed"] == "true"

    conflict = post(api, {"job_type": "echo", "idempotency_key": "a"}, headers={"Idempotency-Key": "b"})
    assert error_of(conflict, 422)["details"]["field"] == "idempotency_key"
    assert api.app.list(job_type="sleep").jobs.__len__() == 2


def test_webhook_top_level_or_in_parameters(api: Api) -> None:
    hook = {"url": "https://hooks.example.com/x", "token": "t0k", "jobId": "client-7"}
    top = post(api, {"job_type": "echo", "parameters": {"a": 1}, "webhook": hook})
    assert top.status_code == 201, top.text
    stored = api.app.get(top.json()["data"]["job_id"])
    assert stored.webhook is not None and stored.webhook["url"] == hook["url"] and stored.webhook["jobId"] == "client-7"
    nested = post(api, {"job_type": "echo", "parameters": {"a": 1, "webhook": hook}})
    assert nested.status_code == 201, nested.text
    job = api.app.get(nested.json()["data"]["job_id"])
    assert job.webhook is not None and job.webhook["token"] == "t0k"
    assert job.parameters == {"a": 1}  # the subscription is not a handler parameter
    both = post(api, {"job_type": "echo", "parameters": {"webhook": hook}, "webhook": hook})
    assert error_of(both, 422)["details"]["field"] == "webhook"
    bad = post(api, {"job_type": "echo", "webhook": {"url": "ftp://x"}})
    assert error_of(bad, 422)["details"]["field"] == "webhook"


def test_webhook_allow_list(make_app: Any) -> None:
    from tests.api.conftest import ThreadedServer, make_keys

    app = make_app(webhook_allowed_hosts=("hooks.example.com", "*.trusted.dev"))
    server = ThreadedServer(app).start()
    try:
        keys = make_keys(app)
        handle = Api(server.base_url, app, keys)
        allowed = post(handle, {"job_type": "echo", "webhook": {"url": "https://a.trusted.dev/cb"}})
        assert allowed.status_code == 201, allowed.text
        refused = post(handle, {"job_type": "echo", "parameters": {"webhook": {"url": "http://169.254.169.254/"}}})
        error = error_of(refused, 422)
        assert error["details"]["field"] == "webhook" and "169.254.169.254" in error["message"]
    finally:
        server.stop()


def test_batch_makes_a_parent_and_children_in_one_transaction(api: Api) -> None:
    response = post(api, {"jobs": [{"job_type": "echo", "parameters": {"i": i}} for i in range(3)]},
                    path="/api/jobs/batch")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    parent, children = data["parent"], data["jobs"]
    assert parent["job_type"] == "conveyor.batch" and len(children) == 3
    assert parent["status"] == "waiting"
    assert all(c["parent_id"] == parent["job_id"] for c in children)
    listed = httpx.get(f"{api.base_url}/api/jobs", params={"parent_id": parent["job_id"]}, headers=api.headers("read"))
    assert len(listed.json()["data"]["jobs"]) == 3

    before = api.app.stats()["total_jobs"]
    bad = post(api, {"jobs": [{"job_type": "echo"}, {"job_type": "sleep", "parameters": {"seconds": -1}}]},
               path="/api/jobs/batch")
    error = error_of(bad, 422)
    assert error["details"]["field"] == "jobs.1.seconds"
    assert api.app.stats()["total_jobs"] == before  # all or nothing


def test_list_filters_and_cursor_pagination(api: Api) -> None:
    ids = [post(api, {"job_type": "sleep", "parameters": {"seconds": 60}, "queue": "q1"}).json()["data"]["job_id"]
           for _ in range(5)]
    post(api, {"job_type": "echo", "queue": "q2"})
    client = api.client("read")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"queue": "q1", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/jobs", params=params).json()["data"]
        seen += [j["job_id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, every job once
    pending = client.get("/api/jobs", params={"status": "pending", "job_type": "echo"}).json()["data"]["jobs"]
    assert [j["queue"] for j in pending] == ["q2"]
    assert error_of(client.get("/api/jobs", params={"status": "nope"}), 422)["details"]["field"] == "status"
    assert error_of(client.get("/api/jobs", params={"limit": 0}), 422)["details"]["field"] == "limit"
    assert error_of(client.get("/api/jobs", params={"cursor": "²"}), 422)["details"]["field"] == "cursor"
    assert error_of(client.get("/api/jobs", params={"cursor": "9" * 40}), 422)["details"]["field"] == "cursor"


def test_admin_actions_and_their_status_codes(api: Api) -> None:
    job = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}, "delay_sec": 3600}).json()["data"]
    client = api.client("admin")
    assert client.delete(f"/api/jobs/{job['job_id']}").status_code == 200
    assert error_of(client.get(f"/api/jobs/{job['job_id']}"), 404)["code"] == "JOB_NOT_FOUND"
    job = post(api, {"job_type": "sleep", "parameters": {"seconds": 60}, "delay_sec": 3600}).json()["data"]
    assert client.post(f"/api/jobs/{job['job_id']}/retry").status_code == 409
    cancelled = client.post(f"/api/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == JobStatus.CANCELLED.value
    assert error_of(client.post(f"/api/jobs/{job['job_id']}/cancel"), 409)["code"] == "INVALID_STATE"
    retried = client.post(f"/api/jobs/{job['job_id']}/retry")
    assert retried.status_code == 200 and retried.json()["data"]["status"] == "pending"
    assert client.post("/api/jobs/purge", json={"older_than_sec": 0}).json()["data"]["purged"] >= 0
    assert error_of(client.post("/api/jobs/nope/cancel"), 404)["code"] == "JOB_NOT_FOUND"
