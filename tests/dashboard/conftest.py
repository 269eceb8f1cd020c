"""The dashboard as an operator meets it: a real `conveyor up` (API + dashboard + a worker) on a
free port and a temp SQLite file, driven by real headless Chromium through Playwright.

Chromium comes from the system (`apt-get install chromium`, done by scripts/dev-env when root);
without it these tests skip with the reason (and fail under CI=true)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor import Conveyor
from conveyor.apikeys import ApiKeys
from conveyor.examples import register_examples
from conveyor.settings import Settings
from tests.conftest import IN_CI, PYTHON, python_env
from tests.helpers import wait_for

CHROMIUM = Path(os.environ.get("CONVEYOR_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("CONVEYOR_TEST_SCREENSHOTS", "/tmp"))


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (scripts/dev-env installs it: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def require_browser() -> None:
    reason = _browser_missing()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires the dashboard browser tests to run: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """`conveyor up` in a subprocess, the test's own handle on the same store, and keys by scope."""

    base_url: str
    dashboard_url: str
    app: Conveyor
    keys: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    folder = tmp_path_factory.mktemp("dashboard")
    db_url = f"sqlite:///{folder / 'conveyor.db'}"
    app = register_examples(Conveyor(settings=Settings(database_url=db_url)))
    app.open()  # create and migrate before the server opens the same file
    keys = ApiKeys(app)
    made = {scope: keys.create(f"dash-{scope}", scope)[1] for scope in ("read", "write", "admin")}
    port = free_port()
    log_path = folder / "up.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [PYTHON, "-m", "conveyor", "up", "--db", db_url, "--app", "conveyor.examples:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--concurrency", "8"],
            env=python_env(), stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        line = wait_for(lambda: re.search(r"dashboard\s+(http://\S+/dashboard)", log_path.read_text(errors="replace"))
                        or proc.poll() is not None, 30, what="conveyor up to announce the dashboard")
        assert proc.poll() is None, f"conveyor up exited:\n{log_path.read_text(errors='replace')}"
        assert isinstance(line, re.Match)
        yield Server(base, line.group(1), app, made, proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        app.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=12_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    ctx.set_default_timeout(12_000)
    yield ctx
    ctx.close()


def login(context: Any, server: Server, scope: str) -> Any:
    """A page logged in with the key of `scope`, on the overview."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(server.dashboard_url)
    expect(page).to_have_url(re.compile(r"/dashboard/login"))
    page.fill("#key", server.keys[scope])
    page.click("button[type=submit]")
    expect(page.locator("#scope")).to_have_text(scope)
    return page


def api_get(server: Server, path: str) -> httpx.Response:
    return httpx.get(server.url(path), headers={"Authorization": f"Bearer {server.keys['admin']}"}, timeout=10,
                     follow_redirects=True)
