"""What every route shares: the success envelope, the documented error responses, the services."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from ..schemas import ErrorResponse
from ..services import ApiServices

_DESCRIPTIONS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing, wrong or revoked API key",
    403: "The API key's scope does not allow this",
    404: "No such job (or key)",
    409: "The job's status does not allow this action",
    413: "Request body too large",
    422: "Invalid input; `error.details.field` names the field",
    503: "The store is unavailable",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


API_ERRORS = errors(400, 401, 403, 404, 409, 413, 422, 503)


async def services(request: Request) -> ApiServices:
    svc: ApiServices = request.app.state.services
    return svc


def ok(data: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`{"status": "success", "data": …}`, serialized once by pydantic."""
    body = b'{"status":"success","data":' + data.model_dump_json().encode() + b"}"
    return Response(body, status_code=status, media_type="application/json", headers=headers)
