"""`create_api(app)`: the FastAPI application serving SPEC §5 for one `Conveyor` app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from .. import __version__
from ..dashboard import mount_dashboard
from .errors import install_error_handlers
from .events import EventHub
from .limits import BodyLimits
from .metrics import Metrics, RequestMetrics
from .routes import admin, events, jobs, system
from .services import ApiServices

if TYPE_CHECKING:
    from ..app import Conveyor

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 32


def create_api(
    app: Conveyor,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_json_depth: int = MAX_JSON_DEPTH,
    events_interval: float = 0.25,
    ping_seconds: float = 10.0,
) -> FastAPI:
    """Build the HTTP API around `app` (its store, handlers and settings). The store is opened
    now; live events and metrics start with the server (lifespan) and stop with it."""
    app.open()
    services = ApiServices(app)
    hub = EventHub(services, interval=events_interval, ping_seconds=ping_seconds)
    metrics = Metrics(app)

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        await services.read(metrics.store.prime)
        task = asyncio.get_running_loop().create_task(hub.run(), name="conveyor-live-events")
        try:
            yield
        finally:
            hub.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
            services.close()

    api = FastAPI(
        title="Conveyor",
        version=__version__,
        summary="Durable background jobs: submit, watch and steer them over HTTP.",
        description="Every `/api` route needs `Authorization: Bearer <key>` (make one with "
        "`conveyor keys create --name NAME --scope read|write|admin`). Bodies are "
        '`{"status": "success", "data": …}` or `{"status": "error", "error": {code, message, details}}`.',
        lifespan=lifespan,
    )
    api.state.services = services
    api.state.hub = hub
    api.state.metrics = metrics
    install_error_handlers(api)
    for module in (jobs, events, admin, system):
        api.include_router(module.router)
    mount_dashboard(api, services)

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:  # `conveyor up` prints the base URL: a browser opened there lands somewhere useful
        return RedirectResponse("/dashboard", status_code=307)

    api.add_middleware(BodyLimits, max_bytes=max_body_bytes, max_depth=max_json_depth)
    api.add_middleware(RequestMetrics, metrics=metrics)
    return api
