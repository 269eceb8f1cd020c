"""Unauthenticated operational routes: `/health` and Prometheus `/metrics`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ... import __version__
from ..metrics import CONTENT_TYPE, Metrics
from ..schemas import Health, Success
from ..services import ApiServices
from .common import errors, ok, services

router = APIRouter(tags=["system"])
Svc = Annotated[ApiServices, Depends(services)]


@router.get("/health", response_model=Success[Health], responses=errors(503), summary="Liveness and store check")
async def health(svc: Svc) -> Response:
    version = await svc.schema_version()
    return ok(Health(version=__version__, store=svc.app.store.dialect, schema_version=version))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
    summary="Prometheus metrics",
)
async def metrics(request: Request, svc: Svc) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(await svc.read(registry.render), media_type=CONTENT_TYPE)
