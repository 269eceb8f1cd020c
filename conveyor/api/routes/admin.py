"""Fleet-wide reads and admin: stats, the audit log, API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from ...apikeys import ApiKey
from ..auth import ADMIN, READ
from ..schemas import AuditOut, AuditPageOut, KeyCreate, KeyCreated, KeyOut, StatsOut, Success
from ..services import ApiServices
from .common import API_ERRORS, ok, services
from .jobs import CURSOR

router = APIRouter(prefix="/api", responses=API_ERRORS)
Svc = Annotated[ApiServices, Depends(services)]


@router.get("/stats", response_model=Success[StatsOut], tags=["stats"], summary="Counts, rates, durations")
async def stats(svc: Svc, key: ApiKey = READ) -> Response:
    return ok(StatsOut.model_validate(await svc.stats()))


@router.get("/audit", response_model=Success[AuditPageOut], tags=["admin"], summary="The audit log")
async def audit(
    svc: Svc,
    key: ApiKey = ADMIN,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    job_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR)] = None,
) -> Response:
    """Operator actions (cancel, retry, delete, purge, keys), newest first, with who did them."""
    page = await svc.audit(limit=limit, cursor=cursor, actor=actor, action=action, job_id=job_id)
    return ok(AuditPageOut(entries=[AuditOut.of(e) for e in page.entries], next_cursor=page.next_cursor))


@router.get("/keys", response_model=Success[list[KeyOut]], tags=["admin"], summary="List API keys")
async def list_keys(svc: Svc, key: ApiKey = ADMIN, include_revoked: bool = False) -> Response:
    keys = await svc.list_keys(include_revoked)
    body = b'{"status":"success","data":[' + b",".join(KeyOut.of(k).model_dump_json().encode() for k in keys) + b"]}"
    return Response(body, media_type="application/json")


@router.post("/keys", status_code=201, response_model=Success[KeyCreated], tags=["admin"], summary="Create a key")
async def create_key(body: KeyCreate, svc: Svc, key: ApiKey = ADMIN) -> Response:
    """The response holds the new key; it is stored only as a hash and shown nowhere else."""
    created, text = await svc.create_key(body.name, body.scope, key)
    return ok(KeyCreated(**KeyOut.of(created).model_dump(), key=text), 201)


@router.delete("/keys/{name_or_id}", response_model=Success[list[KeyOut]], tags=["admin"], summary="Revoke a key")
async def revoke_key(
    name_or_id: Annotated[str, Path(min_length=1, max_length=200)], svc: Svc, key: ApiKey = ADMIN
) -> Response:
    revoked = await svc.revoke_key(name_or_id, key)
    body = b'{"status":"success","data":[' + b",".join(KeyOut.of(k).model_dump_json().encode() for k in revoked) + b"]}"
    return Response(body, media_type="application/json")
