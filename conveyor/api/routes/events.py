"""Server-Sent Events: one job's changes until it is terminal, or every job's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import StreamingResponse

from ...apikeys import ApiKey
from ..auth import READ
from ..events import EventHub
from ..services import ApiServices
from .common import errors, services

router = APIRouter(prefix="/api", tags=["events"], responses=errors(401, 403, 404, 503))
Svc = Annotated[ApiServices, Depends(services)]
SSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "An event stream (`text/event-stream`)",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
}
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def hub(request: Request) -> EventHub:
    found: EventHub = request.app.state.hub
    return found


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse, responses=SSE, summary="Follow a job")
async def job_events(
    job_id: Annotated[str, Path(min_length=1, max_length=200)],
    svc: Svc,
    events: Annotated[EventHub, Depends(hub)],
    key: ApiKey = READ,
) -> StreamingResponse:
    """Events `job` (status changes, the job's JSON), `progress`, `log`, then `end` once the job
    is terminal, when the stream closes. The first events describe the job as it is now."""
    await svc.job_with_logs(job_id)  # 404 before the stream starts
    return StreamingResponse(events.job_stream(job_id), media_type="text/event-stream", headers=_HEADERS)


@router.get("/events", response_class=StreamingResponse, responses=SSE, summary="Follow every job")
async def fleet_events(events: Annotated[EventHub, Depends(hub)], key: ApiKey = READ) -> StreamingResponse:
    """Events `stats` (first), then `job` when a job is created or changes status and `progress`
    for running jobs: a snapshot diff per poll, so a job that starts and ends between two polls
    appears once, finished."""
    return StreamingResponse(events.fleet_stream(), media_type="text/event-stream", headers=_HEADERS)
