"""The dashboard's HTTP surface: login, pages, live fragments (htmx polling) and action POSTs.

Every action is a POST that must come from the dashboard itself (same origin, the session's CSRF
token), from a key whose scope allows it; it answers with a redirect and a one-shot message."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from ..admin import Operator
from ..apikeys import ApiKey, Scope, hash_key
from ..errors import ConveyorError, JobNotFound, StoreError
from ..status import JobStatus
from ..store.params import ApiKeyFind
from . import actions
from .render import STATIC, make_environment
from .session import COOKIE, FLASH_COOKIE, SessionSigner, Viewer
from .shared import SharedRead
from .views import Overview, known_names, read_job, read_overview

if TYPE_CHECKING:
    from ..api.services import ApiServices

PREFIX = "/dashboard"
MAX_FORM_BYTES = 64 * 1024
PAGE_SIZES = (25, 50, 100, 200)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Form = dict[str, str]
STATUS_NAMES = frozenset(s.value for s in JobStatus)


def _origin_ok(request: Request) -> bool:
    """A browser POST from another site says so (Sec-Fetch-Site, Origin): refuse it."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def _form(request: Request) -> Form:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=50)
    return {name: values[0] for name, values in fields.items()}


def _encode_flash(kind: str, text: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"kind": kind, "text": text[:500]}).encode()).decode()


def _decode_flash(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("ok", "error"):
        return None
    return {"kind": str(data["kind"]), "text": str(data.get("text", ""))}


class Dashboard:
    """One dashboard for one API app: its templates, session signer and routes."""

    def __init__(self, services: ApiServices, *, prefix: str = PREFIX, poll_seconds: float = 2.0,
                 secret: bytes | None = None) -> None:
        self.svc = services
        self.prefix = prefix
        self.poll = f"{poll_seconds:g}s"
        self.live_overview: SharedRead[Overview] = SharedRead(floor=poll_seconds / 2)
        self.signer = SessionSigner(secret)
        self.env = make_environment(prefix)

    # -- plumbing ------------------------------------------------------------------------------

    def _safe_next(self, target: str | None, default: str) -> str:
        """Only paths inside the dashboard: never another host (open redirects)."""
        if not target or not target.startswith(self.prefix) or target.startswith("//") or "\\" in target:
            return default
        return target

    def _headers(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _render(self, name: str, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(name).render(poll=self.poll, **context)
        return self._headers(HTMLResponse(html, status_code=status))

    def page(self, request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> Response:
        """A full page: the layout, the viewer's rights, and the one-shot message if any."""
        flash = _decode_flash(request.cookies.get(FLASH_COOKIE))
        scope = viewer.key.scope if viewer else None
        response = self._render(
            name, status, viewer=viewer, flash=flash, path=request.url.path,
            can_write=bool(scope and scope.allows(Scope.WRITE)), can_admin=bool(scope and scope.allows(Scope.ADMIN)),
            **context,
        )
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=self.prefix)
        return response

    def _redirect(self, url: str, flash: tuple[str, str] | None = None) -> Response:
        response = RedirectResponse(url, status_code=303)
        if flash is not None:
            response.set_cookie(FLASH_COOKIE, _encode_flash(*flash), max_age=60, path=self.prefix,
                                httponly=True, samesite="strict")
        return self._headers(response)

    async def viewer(self, request: Request) -> Viewer | None:
        cookie = request.cookies.get(COOKIE)
        key_hash = self.signer.key_hash(cookie, self.svc.app.clock.now())
        if cookie is None or key_hash is None:
            return None
        record = await self.svc.read(self.svc.app.store.api_key_find, ApiKeyFind(key_hash))
        if record is None or record.revoked_at is not None:
            return None
        return Viewer(ApiKey.from_record(record), self.signer.csrf_token(cookie))

    def _login_redirect(self, request: Request) -> Response:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        url = f"{self.prefix}/login?next={target}"
        if request.headers.get("hx-request"):  # a live fragment whose session ended: htmx follows this
            return self._headers(Response(status_code=401, headers={"HX-Redirect": url}))
        return self._redirect(url)

    def _refuse(self, request: Request, viewer: Viewer | None, status: int, message: str) -> Response:
        return self.page(request, "error.html", viewer, status, title="Not allowed" if status == 403 else "Error",
                         message=message)

    async def _act(self, request: Request, needed: Scope, back: str,
                   run: Callable[[ApiKey, Form], Awaitable[str]], done: str | None = None) -> Response:
        """The one path of every action: origin, session, CSRF token, scope, then run and report."""
        if not _origin_ok(request):
            return self._refuse(request, None, 403, "This request came from another site; it was refused.")
        viewer = await self.viewer(request)
        if viewer is None:
            return self._refuse(request, None, 401, "Your session has ended: log in again.")
        form = await _form(request)
        if not self.signer.csrf_ok(request.cookies.get(COOKIE, ""), form.get("csrf")):
            return self._refuse(request, viewer, 403, "The form's security token is missing or stale: reload the "
                                "page and try again.")
        if not viewer.key.scope.allows(needed):
            return self._refuse(request, viewer, 403, f"Your key's scope is {viewer.key.scope.value}; "
                                f"this action needs {needed.value}.")
        back = self._safe_next(form.get("next"), back)
        try:
            message = await run(viewer.key, form)
        except ConveyorError as exc:
            return self._redirect(back, ("error", str(exc)))
        return self._redirect(self._safe_next(done, back) if done else back, ("ok", message))

    # -- login -----------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        target = self._safe_next(request.query_params.get("next"), self.prefix + "/")
        if await self.viewer(request) is not None:
            return self._redirect(target)
        return self.page(request, "login.html", None, next=target, error=None)

    async def login(self, request: Request) -> Response:
        if not _origin_ok(request):
            return self._refuse(request, None, 403, "This request came from another site; it was refused.")
        form = await _form(request)
        text = form.get("key", "").strip()
        target = self._safe_next(form.get("next"), self.prefix + "/")
        try:
            key = await self.svc.authenticate(text) if text else None
        except StoreError as exc:  # a store that cannot hold keys yet: say so on the form
            return self.page(request, "login.html", None, 503, next=target, error=str(exc))
        if key is None:
            return self.page(request, "login.html", None, 401, next=target,
                             error="That key is not valid (wrong, revoked, or not made for this store).")
        await self.svc.write(Operator(self.svc.app, key.name).record, "dashboard.login")
        response = self._redirect(target)
        response.set_cookie(COOKIE, self.signer.issue(hash_key(text), self.svc.app.clock.now()),
                            max_age=int(self.signer.max_age), path=self.prefix, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        cookie = request.cookies.get(COOKIE, "")
        form = await _form(request)
        if not _origin_ok(request) or not self.signer.csrf_ok(cookie, form.get("csrf")):
            return self._refuse(request, None, 403, "Log out from the dashboard's own button.")
        response = self._redirect(f"{self.prefix}/login")
        response.delete_cookie(COOKIE, path=self.prefix)
        return response

    # -- pages -----------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        data = await self.svc.read(read_overview, self.svc.app)
        return self.page(request, "overview.html", viewer, ov=data, title="Overview")

    async def _shared_overview(self) -> Overview:
        """The overview read every open dashboard shares (shared.py): the live refresh and the
        jobs page's filter suggestions, which would each count the whole table otherwise."""
        return await self.live_overview.get(lambda: self.svc.read(read_overview, self.svc.app))

    async def overview_live(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        data = await self._shared_overview()
        return self._render("_overview_live.html", ov=data, viewer=viewer,
                            can_admin=viewer.key.scope.allows(Scope.ADMIN))

    def _filters(self, request: Request) -> tuple[dict[str, Any], str | None]:
        q = request.query_params
        status = q.get("status") or None
        filters: dict[str, Any] = {
            "status": status, "job_type": (q.get("job_type") or "").strip() or None,
            "queue": (q.get("queue") or "").strip() or None, "cursor": q.get("cursor") or None,
        }
        try:
            limit = int(q.get("limit") or 50)
        except ValueError:
            limit = 50
        filters["limit"] = limit if limit in PAGE_SIZES else 50
        error = None
        if status is not None and status not in STATUS_NAMES:
            error, filters["status"] = f"Unknown status {status!r}; showing every status.", None
        return filters, error

    async def _job_table(self, request: Request) -> dict[str, Any]:
        filters, error = self._filters(request)
        page = None
        try:
            page = await self.svc.list_jobs(**filters)
        except ConveyorError as exc:
            error = str(exc)
        query = {k: v for k, v in filters.items() if v is not None and k != "cursor"}
        return {"filters": filters, "page": page, "error": error, "query": query,
                "now": self.svc.app.clock.now(), "live": filters["cursor"] is None}

    async def jobs(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        table = await self._job_table(request)
        overview = await self._shared_overview()
        types, queues = known_names(self.svc.app, overview.stats)
        return self.page(request, "jobs.html", viewer, title="Jobs", types=types, queues=queues, **table)

    async def jobs_live(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        return self._render("_jobs_table.html", **await self._job_table(request))

    async def job(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        job_id = request.path_params["job_id"]
        try:
            view = await self.svc.read(read_job, self.svc.app, job_id)
        except JobNotFound:
            return self.page(request, "error.html", viewer, 404, title="No such job",
                             message=f"There is no job {job_id} (it may have been deleted or purged).")
        return self.page(request, "job.html", viewer, v=view, title=f"Job {actions.short(view.job.job_id)}")

    async def job_live(self, request: Request) -> Response:
        viewer = await self.viewer(request)
        if viewer is None:
            return self._login_redirect(request)
        try:
            view = await self.svc.read(read_job, self.svc.app, request.path_params["job_id"])
        except JobNotFound:  # deleted meanwhile: the full page says so
            return self._headers(Response(status_code=404, headers={"HX-Refresh": "true"}))
        scope = viewer.key.scope
        return self._render("_job_live.html", v=view, viewer=viewer, path=request.url.path.removesuffix("/live"),
                            can_write=scope.allows(Scope.WRITE), can_admin=scope.allows(Scope.ADMIN))

    # -- actions -------------------------------------------------------------------------------

    def _job_url(self, request: Request) -> str:
        return f"{self.prefix}/jobs/{quote(request.path_params['job_id'], safe='')}"

    async def cancel(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        return await self._act(request, actions.NEEDS.cancel, self._job_url(request),
                               lambda key, form: actions.cancel(self.svc, key, job_id))

    async def retry(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        return await self._act(request, actions.NEEDS.retry, self._job_url(request),
                               lambda key, form: actions.retry(self.svc, key, job_id))

    async def delete(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        return await self._act(request, actions.NEEDS.delete, self._job_url(request),
                               lambda key, form: actions.delete(self.svc, key, job_id), done=f"{self.prefix}/jobs")

    async def retry_failed(self, request: Request) -> Response:
        return await self._act(request, actions.NEEDS.retry_failed, f"{self.prefix}/",
                               lambda key, form: actions.retry_failed(self.svc, key, form.get("job_type"),
                                                                      form.get("queue")))

    async def purge(self, request: Request) -> Response:
        return await self._act(request, actions.NEEDS.purge, f"{self.prefix}/",
                               lambda key, form: actions.purge(self.svc, key, form.get("older_than_days")))

    async def pause(self, request: Request) -> Response:
        return await self._act(request, actions.NEEDS.pause, f"{self.prefix}/",
                               lambda key, form: actions.set_paused(self.svc, key, form.get("queue"), True))

    async def resume(self, request: Request) -> Response:
        return await self._act(request, actions.NEEDS.pause, f"{self.prefix}/",
                               lambda key, form: actions.set_paused(self.svc, key, form.get("queue"), False))

    # -- wiring ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(prefix=self.prefix, include_in_schema=False)
        get: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
            ("", self.overview), ("/", self.overview), ("/login", self.login_page),
            ("/partials/overview", self.overview_live), ("/jobs", self.jobs), ("/partials/jobs", self.jobs_live),
            ("/jobs/{job_id}", self.job), ("/jobs/{job_id}/live", self.job_live),
        ]
        post: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
            ("/login", self.login), ("/logout", self.logout), ("/jobs/retry-failed", self.retry_failed),
            ("/jobs/{job_id}/cancel", self.cancel), ("/jobs/{job_id}/retry", self.retry),
            ("/jobs/{job_id}/delete", self.delete), ("/purge", self.purge),
            ("/queues/pause", self.pause), ("/queues/resume", self.resume),
        ]
        for path, endpoint in get:
            router.add_api_route(path, endpoint, methods=["GET"], response_class=HTMLResponse)
        for path, endpoint in post:
            router.add_api_route(path, endpoint, methods=["POST"], response_class=HTMLResponse)
        return router


def mount_dashboard(api: FastAPI, services: ApiServices, *, prefix: str = PREFIX, poll_seconds: float = 2.0,
                    secret: bytes | None = None) -> Dashboard:
    """Serve the dashboard at `prefix` on `api` (static files under `prefix/static`)."""
    dashboard = Dashboard(services, prefix=prefix, poll_seconds=poll_seconds, secret=secret)
    api.mount(f"{prefix}/static", StaticFiles(directory=str(STATIC)), name="dashboard-static")
    api.include_router(dashboard.router())
    api.state.dashboard = dashboard
    return dashboard
