"""Driving the dashboard in headless Chromium against a real `conveyor up`: login, live pages,
and every kind of action, checked against the store and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conveyor.admin import audit_list
from conveyor.errors import JobNotFound
from conveyor.status import JobStatus
from tests.dashboard.conftest import SCREENSHOTS, Server, api_get, login
from tests.helpers import wait_for

pytestmark = pytest.mark.timeout(120)


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def wait_status(server: Server, job_id: str, status: JobStatus, timeout: float = 20) -> None:
    wait_for(lambda: server.app.get(job_id).status is status, timeout, what=f"job {job_id} to be {status.value}")


def wait_quiet(server: Server) -> None:
    """Nothing runs and nothing is due outside paused queues: the counts hold still."""

    def quiet() -> bool:
        stats = server.app.stats()
        paused = {lim["key"] for lim in server.app.limits() if lim["scope"] == "queue" and lim["paused"]}
        due = sum(q.get("pending", 0) for name, q in stats["by_queue"].items() if name not in paused)
        return stats["by_status"]["running"] == 0 and due == 0

    wait_for(quiet, 20, what="the worker to go idle")


def audited(server: Server, action: str, job_id: str | None = None) -> list[Any]:
    return audit_list(server.app, limit=50, action=action, job_id=job_id).entries


def test_up_announces_the_dashboard(server: Server) -> None:
    assert server.dashboard_url == server.url("/dashboard")
    response = api_get(server, "/dashboard/")
    assert response.status_code == 200 and "Log in" in response.text  # a bearer header is no session


def test_wrong_key_cannot_log_in(server: Server, context: Any) -> None:
    page = context.new_page()
    page.goto(server.url("/dashboard/jobs"))
    expect()(page).to_have_url(re.compile(r"/dashboard/login\?next=%2Fdashboard%2Fjobs"))
    for wrong in ("cvk_00000000_not-a-real-key", "cvk_NaN_Infinity[{", server.keys["admin"] + "x"):
        page.fill("#key", wrong)
        page.click("button[type=submit]")
        expect()(page.locator("#login-error")).to_contain_text("not valid")
        expect()(page).to_have_url(re.compile(r"/dashboard/login"))
    assert not [c for c in context.cookies() if c["name"] == "conveyor_dashboard"]
    page.goto(server.url("/dashboard/"))
    expect()(page).to_have_url(re.compile(r"/dashboard/login"))


def test_login_sets_a_strict_httponly_session_without_the_key(server: Server, context: Any) -> None:
    page = login(context, server, "write")
    (cookie,) = [c for c in context.cookies() if c["name"] == "conveyor_dashboard"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/dashboard"
    assert server.keys["write"] not in cookie["value"]
    assert audited(server, "dashboard.login")[0].actor == "dash-write"
    page.click("text=Log out")
    expect()(page).to_have_url(re.compile(r"/dashboard/login"))
    page.goto(server.url("/dashboard/"))
    expect()(page).to_have_url(re.compile(r"/dashboard/login"))


def test_overview_counts_match_the_store(server: Server, context: Any) -> None:
    app = server.app
    app.pause_queue("held")
    for i in range(3):
        app.enqueue("echo", {"i": i})
    failed = [app.enqueue("fail", {"message": f"boom {i}"}).job_id for i in range(2)]
    for _ in range(2):
        app.enqueue("sleep", {"seconds": 1}, delay=3600)
        app.enqueue("echo", {}, queue="held")
    for job_id in failed:
        wait_status(server, job_id, JobStatus.FAILED)
    wait_quiet(server)
    page = login(context, server, "admin")
    stats = app.stats()
    for status, count in stats["by_status"].items():
        expect()(page.locator(f"#count-{status} .num")).to_have_text(str(count))
    expect()(page.locator("#kpi-total")).to_have_text(str(stats["total_jobs"]))
    held = page.locator('#queues tr[data-queue="held"]')
    expect()(held.locator(".depth")).to_have_text("2")
    expect()(held.locator(".queue-state")).to_have_text("paused")
    expect()(page.locator("#kpi-success")).to_contain_text("%")
    # Live: a new job shows up in the counts without a reload.
    page.evaluate("window.__still_here = true")
    app.enqueue("echo", {}, queue="held")
    expect()(page.locator("#count-pending .num")).to_have_text(str(stats["by_status"]["pending"] + 1))
    assert page.evaluate("window.__still_here") is True
    page.screenshot(path=str(SCREENSHOTS / "conveyor-dashboard-overview.png"), full_page=True)


def test_progress_job_page_updates_live(server: Server, context: Any) -> None:
    job = server.app.enqueue("progress", {"steps": 8, "step_seconds": 0.6})
    page = login(context, server, "read")
    page.goto(server.url(f"/dashboard/jobs/{job.job_id}"))
    page.evaluate("window.__still_here = true")
    expect()(page.locator("#job-status")).to_have_text("running")
    first = page.locator("#progress-percent").inner_text()
    expect()(page.locator("#progress-percent")).not_to_have_text(first)
    page.screenshot(path=str(SCREENSHOTS / "conveyor-dashboard-job.png"), full_page=True)
    expect()(page.locator("#job-status")).to_have_text("completed", timeout=20_000)
    expect()(page.locator("#progress-percent")).to_have_text("100%")
    expect()(page.locator("#job-result")).to_contain_text('"steps": 8')
    expect()(page.locator("#job-logs")).to_contain_text("all steps done")
    assert page.evaluate("window.__still_here") is True, "the page reloaded instead of refreshing in place"
    assert page.locator("#job-live").get_attribute("hx-trigger") is None  # finished: polling stops


def test_cancel_a_running_job_from_its_page(server: Server, context: Any) -> None:
    job = server.app.enqueue("sleep", {"seconds": 120})
    wait_status(server, job.job_id, JobStatus.RUNNING)
    page = login(context, server, "write")
    page.goto(server.url(f"/dashboard/jobs/{job.job_id}"))
    expect()(page.locator("#job-status")).to_have_text("running")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#action-cancel")
    expect()(page.locator("#flash")).to_have_text(f"Job {job.job_id} cancelled.")
    expect()(page.locator("#job-status")).to_have_text("cancelled")
    assert server.app.get(job.job_id).status is JobStatus.CANCELLED
    assert audited(server, "job.cancel", job.job_id)[0].actor == "dash-write"
    # A stale page cancelling again (the job is finished now) hears why it cannot.
    page.evaluate("""(jobId) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = `/dashboard/jobs/${jobId}/cancel`;
        const token = document.createElement('input');
        token.type = 'hidden'; token.name = 'csrf';
        token.value = document.querySelector('meta[name=csrf-token]').content;
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
    }""", job.job_id)
    expect()(page.locator("#flash.flash-error")).to_contain_text("already cancelled")
    wait_quiet(server)


def test_retry_a_failed_job_while_its_queue_is_paused(server: Server, context: Any) -> None:
    job = server.app.enqueue("fail", {"message": "first try fails"}, queue="retryq")
    wait_status(server, job.job_id, JobStatus.FAILED)
    page = login(context, server, "admin")
    row = page.locator('#queues tr[data-queue="retryq"]')
    row.locator(".queue-toggle").click()
    expect()(page.locator("#flash")).to_contain_text("Queue retryq paused")
    expect()(row.locator(".queue-state")).to_have_text("paused")

    page.goto(server.url(f"/dashboard/jobs/{job.job_id}"))
    expect()(page.locator("#job-error")).to_contain_text("EXAMPLE_FAILURE")
    expect()(page.locator("#job-error")).to_contain_text("first try fails")
    page.click("#action-retry")
    expect()(page.locator("#flash")).to_contain_text("queued again")
    expect()(page.locator("#job-status")).to_have_text("pending")
    assert server.app.get(job.job_id).attempt == 0  # held by the paused queue

    page.goto(server.url("/dashboard/"))
    row.locator(".queue-toggle").click()
    expect()(page.locator("#flash")).to_contain_text("Queue retryq resumed")
    wait_status(server, job.job_id, JobStatus.FAILED)
    page.goto(server.url("/dashboard/jobs?status=failed&queue=retryq"))
    expect()(page.locator(f'tr[data-job-id="{job.job_id}"]')).to_contain_text("failed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Retry all failed matching")
    expect()(page.locator("#flash")).to_have_text("Queued 1 failed job in queue retryq for retry.")
    for action in ("queue.pause", "queue.resume", "jobs.retry_failed"):
        assert audited(server, action)[0].actor == "dash-admin"
    assert audited(server, "job.retry", job.job_id)[0].actor == "dash-admin"
    wait_status(server, job.job_id, JobStatus.FAILED)


def test_read_key_sees_no_actions_and_forged_posts_are_refused(server: Server, context: Any) -> None:
    job = server.app.enqueue("fail", {"message": "stays failed"})
    wait_status(server, job.job_id, JobStatus.FAILED)
    page = login(context, server, "read")
    expect()(page.locator("#read-only-note")).to_be_visible()
    assert page.locator("#purge, #retry-all-failed, .queue-toggle").count() == 0
    page.goto(server.url(f"/dashboard/jobs/{job.job_id}"))
    expect()(page.locator("#job-status")).to_have_text("failed")
    assert page.locator("#action-retry, #action-cancel, #action-delete").count() == 0

    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    for action in ("retry", "delete"):
        forged = context.request.post(server.url(f"/dashboard/jobs/{job.job_id}/{action}"), form={"csrf": token},
                                      max_redirects=0)
        assert forged.status == 403 and "scope is read" in forged.text()
    forged = context.request.post(server.url("/dashboard/purge"), form={"csrf": token, "older_than_days": "0"},
                                  max_redirects=0)
    assert forged.status == 403
    assert server.app.get(job.job_id).status is JobStatus.FAILED

    admin = login(context.browser.new_context(), server, "admin")
    no_token = admin.context.request.post(server.url(f"/dashboard/jobs/{job.job_id}/delete"), form={},
                                          max_redirects=0)
    assert no_token.status == 403 and "security token" in no_token.text()
    # A form on another site posting at the dashboard: refused, and the job is untouched.
    evil = admin.context.new_page()
    evil.goto(server.url("/health").replace("127.0.0.1", "localhost"))
    evil.set_content(f'<form method="post" action="{server.url(f"/dashboard/jobs/{job.job_id}/delete")}">'
                     f'<input name="csrf" value="{token}"></form>')
    with evil.expect_navigation() as navigation:
        evil.evaluate("document.forms[0].submit()")
    assert navigation.value.status == 403
    assert server.app.get(job.job_id).status is JobStatus.FAILED
    admin.context.close()


def test_delete_and_purge(server: Server, context: Any) -> None:
    app = server.app
    doomed = app.enqueue("echo", {"delete": "me"})
    kept = [app.enqueue("echo", {"purge": i}, queue="purgeq").job_id for i in range(2)]
    wait_status(server, doomed.job_id, JobStatus.COMPLETED)
    for job_id in kept:
        wait_status(server, job_id, JobStatus.COMPLETED)
    wait_quiet(server)
    page = login(context, server, "admin")
    page.goto(server.url(f"/dashboard/jobs/{doomed.job_id}"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#action-delete")
    expect()(page.locator("#flash")).to_have_text(f"Job {doomed.job_id} deleted.")
    expect()(page).to_have_url(re.compile(r"/dashboard/jobs$"))
    with pytest.raises(JobNotFound):
        app.get(doomed.job_id)

    by_status = app.stats()["by_status"]
    finished = sum(by_status[s] for s in ("completed", "failed", "cancelled"))
    page.goto(server.url("/dashboard/"))
    page.fill("#older_than_days", "0")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#purge")
    expect()(page.locator("#flash")).to_have_text(f"Purged {finished} finished jobs older than 0 days.")
    expect()(page.locator("#count-completed .num")).to_have_text("0")
    for job_id in kept:
        with pytest.raises(JobNotFound):
            app.get(job_id)
    entry = audited(server, "jobs.purge")[0]
    assert entry.actor == "dash-admin" and entry.details["count"] == finished
    assert audited(server, "job.delete", doomed.job_id)[0].actor == "dash-admin"
