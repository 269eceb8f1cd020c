"""The dashboard over plain HTTP (no browser, no worker): sessions, redirects, paging, error
messages and what the overview shows of limits and schedules. Runs everywhere, Chromium or not."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from conveyor import Conveyor
from conveyor.api import create_api
from conveyor.apikeys import ApiKeys
from conveyor.dashboard.session import SessionSigner
from conveyor.store.params import PeriodicUpsert
from tests.dashboard.conftest import free_port
from tests.helpers import wait_for

TOKEN = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')
FLASH = re.compile(r'id="flash">([^<]*)<')


class Browser:
    """A httpx.Client that logs in through the form and posts forms with the page's CSRF token."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.token = ""

    def login(self, key: str) -> None:
        response = self.client.post("/dashboard/login", data={"key": key}, follow_redirects=True)
        assert response.status_code == 200, response.text
        match = TOKEN.search(response.text)
        assert match
        self.token = match.group(1)

    def post(self, path: str, **form: str) -> Any:
        return self.client.post(path, data={"csrf": self.token, **form}, follow_redirects=True)


@pytest.fixture
def app(make_app: Any) -> Conveyor:
    made: Conveyor = make_app()
    return made


@pytest.fixture
def keys(app: Conveyor) -> dict[str, str]:
    return {scope: ApiKeys(app).create(f"http-{scope}", scope)[1] for scope in ("read", "write", "admin")}


@pytest.fixture
def client(app: Conveyor) -> Iterator[httpx.Client]:
    """uvicorn serving `create_api(app)` on a free port in a thread, and a client for it."""
    api = create_api(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 20, what="uvicorn to start")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        yield http
    api.state.hub.close()
    server.should_exit = True
    thread.join(15)


@pytest.fixture
def admin(client: httpx.Client, keys: dict[str, str]) -> Browser:
    browser = Browser(client)
    browser.login(keys["admin"])
    return browser


def flash(response: Any) -> str:
    match = FLASH.search(response.text)
    return match.group(1) if match else ""


def test_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner(b"k" * 32, max_age=60)
    cookie = signer.issue("ab" * 32, now=1000.0)
    assert signer.key_hash(cookie, 1030.0) == "ab" * 32
    assert signer.key_hash(cookie, 1061.0) is None  # expired
    tampered = cookie.replace("ab", "cd", 1)
    assert signer.key_hash(tampered, 1030.0) is None
    assert SessionSigner(b"other" * 8).key_hash(cookie, 1030.0) is None  # another server's secret
    assert signer.csrf_ok(cookie, signer.csrf_token(cookie))
    assert not signer.csrf_ok(cookie, "") and not signer.csrf_ok(cookie, signer.csrf_token(tampered))


def test_revoking_the_key_ends_the_session(app: Conveyor, client: httpx.Client, admin: Browser) -> None:
    assert client.get("/dashboard/", follow_redirects=False).status_code == 200
    ApiKeys(app).revoke("http-admin")
    response = client.get("/dashboard/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")


def test_pages_need_a_session_and_fragments_ask_htmx_to_redirect(client: httpx.Client) -> None:
    response = client.get("/dashboard/jobs?status=failed", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fjobs%3Fstatus%3Dfailed"
    fragment = client.get("/dashboard/partials/overview", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/dashboard/login")
    assert client.post("/dashboard/purge", data={"older_than_days": "0"}).status_code == 401


def test_a_wrong_key_is_refused_by_the_form_not_the_json_filter(client: httpx.Client, keys: dict[str, str]) -> None:
    for wrong in ("cvk_NaN_Infinity", keys["admin"][:-1], ""):
        response = client.post("/dashboard/login", data={"key": wrong}, follow_redirects=False)
        assert response.status_code == 401 and "not valid" in response.text, wrong
        assert "conveyor_dashboard" not in response.headers.get("set-cookie", "")


def test_login_never_redirects_off_the_dashboard(client: httpx.Client, keys: dict[str, str]) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/docs", "/dashboard\\@evil"):
        response = client.post("/dashboard/login", data={"key": keys["read"], "next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/", target


def test_pages_carry_security_headers(admin: Browser) -> None:
    response = admin.client.get("/dashboard/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    static = admin.client.get("/dashboard/static/htmx.min.js")
    assert static.status_code == 200 and static.text.startswith("/*! htmx.org 2.0.11")


def test_jobs_list_filters_and_pages_with_a_cursor(app: Conveyor, admin: Browser) -> None:
    ids = [app.enqueue("echo", {"i": i}).job_id for i in range(30)]
    other = app.enqueue("sleep", {"seconds": 1}, queue="slow").job_id
    first = admin.client.get("/dashboard/jobs?job_type=echo&limit=25")
    rows = re.findall(r'data-job-id="([^"]+)"', first.text)
    assert rows == ids[::-1][:25]
    older = re.search(r'href="(/dashboard/jobs\?[^"]*cursor=[^"]+)" id="page-older"', first.text)
    assert older
    second = admin.client.get(older.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-job-id="([^"]+)"', second.text) == ids[::-1][25:]
    assert 'id="page-newest"' in second.text and 'id="page-older"' not in second.text
    slow = admin.client.get("/dashboard/jobs?queue=slow&status=pending")
    assert re.findall(r'data-job-id="([^"]+)"', slow.text) == [other]
    assert "No jobs match" in admin.client.get("/dashboard/jobs?status=failed").text
    bad = admin.client.get("/dashboard/jobs?cursor=not-a-cursor")
    assert bad.status_code == 200 and "cursor is not one" in bad.text
    assert "Unknown status" in admin.client.get("/dashboard/jobs?status=exploded").text


def test_failed_actions_explain_themselves(app: Conveyor, admin: Browser) -> None:
    job = app.enqueue("echo", {})
    assert flash(admin.post(f"/dashboard/jobs/{job.job_id}/cancel")) == f"Job {job.job_id} cancelled."
    again = flash(admin.post(f"/dashboard/jobs/{job.job_id}/cancel"))
    assert again == f"job {job.job_id} is already cancelled; only unfinished jobs can be cancelled"
    assert "No such job" in admin.client.get("/dashboard/jobs/0000-nope").text
    assert "not found" in flash(admin.post("/dashboard/jobs/0000-nope/cancel")).lower()
    assert "give a number of days" in flash(admin.post("/dashboard/purge", older_than_days="soon"))
    assert "days must be" in flash(admin.post("/dashboard/purge", older_than_days="-1"))
    assert "name the queue" in flash(admin.post("/dashboard/queues/pause", queue=" "))


def test_overview_shows_limits_paused_queues_and_schedules(app: Conveyor, admin: Browser) -> None:
    app.set_limit(queue="emails", concurrency=2, rate="10/s")
    app.enqueue("echo", {}, queue="emails")
    now = time.time()
    app.store.periodic_upsert(PeriodicUpsert("nightly", "0 3 * * *", "echo", {}, {}, "run_once", now + 3600))
    assert "Queue emails paused" in flash(admin.post("/dashboard/queues/pause", queue="emails"))
    page = admin.client.get("/dashboard/partials/overview").text
    assert re.search(r'data-queue="emails">.*?paused', page, re.DOTALL)
    assert re.search(r"<td>queue</td><td>emails</td><td class=\"n\">2</td>\s*<td>10/1s</td><td>yes</td>", page)
    assert re.search(r"<td>nightly</td><td><code>0 3 \* \* \*</code></td><td>echo</td>\s*<td[^>]*>in (59|60) min", page)
    assert "Queue emails resumed" in flash(admin.post("/dashboard/queues/resume", queue="emails"))
