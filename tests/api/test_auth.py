"""Auth matrix: every /api route × {no key, wrong key, read, write, admin} → the right status."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from conveyor.apikeys import ApiKeys
from tests.api.conftest import Api

Request = tuple[str, str, Any]  # method, path, json body


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    needs: str  # read | write | admin
    ok: int
    make: Callable[[Api, int], Request]


def _job(api: Api, delayed: bool = True) -> str:
    return api.app.enqueue("sleep", {"seconds": 60}, delay=3600 if delayed else None).job_id


def _cancelled(api: Api) -> str:
    job_id = _job(api)
    api.app.cancel(job_id)
    return job_id


SUBMIT = {"job_type": "echo", "parameters": {"x": 1}}
ROUTES = [
    Route("POST", "/api/jobs/", "write", 201, lambda a, i: ("POST", "/api/jobs/", SUBMIT)),
    Route("POST", "/api/jobs/batch", "write", 201, lambda a, i: ("POST", "/api/jobs/batch", {"jobs": [SUBMIT]})),
    Route("GET", "/api/jobs", "read", 200, lambda a, i: ("GET", "/api/jobs", None)),
    Route("POST", "/api/jobs/purge", "admin", 200, lambda a, i: ("POST", "/api/jobs/purge", {"older_than_sec": 1e6})),
    Route("GET", "/api/jobs/{job_id}", "read", 200, lambda a, i: ("GET", f"/api/jobs/{_job(a)}", None)),
    Route("POST", "/api/jobs/{job_id}/cancel", "write", 200,
          lambda a, i: ("POST", f"/api/jobs/{_job(a)}/cancel", None)),
    Route("POST", "/api/jobs/{job_id}/retry", "write", 200,
          lambda a, i: ("POST", f"/api/jobs/{_cancelled(a)}/retry", None)),
    Route("DELETE", "/api/jobs/{job_id}", "admin", 200, lambda a, i: ("DELETE", f"/api/jobs/{_job(a)}", None)),
    Route("GET", "/api/jobs/{job_id}/events", "read", 200,
          lambda a, i: ("GET", f"/api/jobs/{_cancelled(a)}/events", None)),
    Route("GET", "/api/events", "read", 200, lambda a, i: ("GET", "/api/events", None)),
    Route("GET", "/api/stats", "read", 200, lambda a, i: ("GET", "/api/stats", None)),
    Route("GET", "/api/audit", "admin", 200, lambda a, i: ("GET", "/api/audit", None)),
    Route("GET", "/api/keys", "admin", 200, lambda a, i: ("GET", "/api/keys", None)),
    Route("POST", "/api/keys", "admin", 201, lambda a, i: ("POST", "/api/keys", {"name": f"k{i}", "scope": "read"})),
    Route("DELETE", "/api/keys/{name_or_id}", "admin", 200,
          lambda a, i: ("DELETE", f"/api/keys/{ApiKeys(a.app).create(f'victim{i}')[0].name}", None)),
]
RANK = {"read": 0, "write": 1, "admin": 2}
CREDENTIALS = [None, "wrong", "read", "write", "admin"]


def expected(route: Route, credential: str | None) -> int:
    if credential in (None, "wrong"):
        return 401
    return route.ok if RANK[credential] >= RANK[route.needs] else 403


def send(api: Api, client: httpx.Client, request: Request, credential: str | None) -> httpx.Response:
    method, path, body = request
    headers = {}
    if credential == "wrong":
        headers["Authorization"] = "Bearer cvk_00000000_not-a-real-key"
    elif credential is not None:
        headers["Authorization"] = f"Bearer {api.keys[credential]}"
    with client.stream(method, path, json=body, headers=headers) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
        return response  # an event stream is closed unread: its status is what we check


def test_every_api_route_is_in_the_matrix(api: Api) -> None:
    schema = api.client(scope=None).get("/openapi.json").json()
    served = {(m.upper(), path) for path, ops in schema["paths"].items() for m in ops if path.startswith("/api")}
    assert served == {(r.method, r.template) for r in ROUTES}


def test_auth_matrix(api: Api) -> None:
    client = api.client(scope=None)
    wrong: list[str] = []
    for n, (route, credential) in enumerate(itertools.product(ROUTES, CREDENTIALS)):
        response = send(api, client, route.make(api, n), credential)
        want = expected(route, credential)
        if response.status_code != want:
            wrong.append(f"{route.method} {route.template} as {credential}: {response.status_code}, want {want}")
        elif want in (401, 403):
            error = response.json()["error"]
            assert error["code"] == ("UNAUTHORIZED" if want == 401 else "FORBIDDEN")
    assert not wrong, "\n".join(wrong)


def test_health_and_metrics_need_no_key(api: Api) -> None:
    client = api.client(scope=None)
    assert client.get("/health").json()["data"]["status"] == "ok"
    assert client.get("/metrics").status_code == 200


def test_the_root_url_leads_to_the_dashboard(api: Api) -> None:
    response = api.client(scope=None).get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/dashboard")


def test_revoked_key_is_refused(api: Api) -> None:
    keys = ApiKeys(api.app)
    _, text = keys.create("short-lived", "write")
    client = api.client(scope=None, headers={"Authorization": f"Bearer {text}"})
    assert client.get("/api/stats").status_code == 200
    keys.revoke("short-lived")
    response = client.get("/api/stats")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_malformed_authorization_headers(api: Api) -> None:
    client = api.client(scope=None)
    for value in ("Basic abc", "Bearer", "cvk_x", "Bearer cvk_", "Bearer " + "x" * 5000):
        assert client.get("/api/stats", headers={"Authorization": value}).status_code == 401, value
