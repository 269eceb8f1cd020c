"""The error shape of every failed request, `{"status": "error", "error": {code, message, details}}`,
and the one table that maps Conveyor's exceptions to HTTP statuses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from ..apikeys import KeyNameTaken, KeyNotFound
from ..errors import (
    ConfigError,
    ConveyorError,
    InvalidJobOptions,
    InvalidParameters,
    InvalidTransition,
    JobNotFound,
    StoreError,
    UnknownJobType,
)

log = logging.getLogger("conveyor.api")

STATUS_FOR: list[tuple[type[ConveyorError], int]] = [
    (JobNotFound, 404),
    (KeyNotFound, 404),
    (UnknownJobType, 422),
    (InvalidParameters, 422),
    (InvalidJobOptions, 422),
    (InvalidTransition, 409),
    (KeyNameTaken, 409),
    (StoreError, 503),
    (ConfigError, 500),
]
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
    503: "UNAVAILABLE",
}


class ApiProblem(Exception):
    """Raised by the API's own code for a 4xx that is not a Conveyor error (auth, limits)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"status": "error", "error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def problem_of(exc: ConveyorError, where: str | None = None) -> ApiProblem:
    """The HTTP form of a Conveyor error; `where` (e.g. "jobs.3") prefixes the field it names."""
    status = next((s for cls, s in STATUS_FOR if isinstance(exc, cls)), 400)
    details: dict[str, Any] = {}
    field = getattr(exc, "field", None)
    if isinstance(exc, UnknownJobType):
        field = "job_type"
        details["job_type"] = exc.job_type
    if where:
        field = f"{where}.{field}" if field else where
    if field:
        details["field"] = field
    errors = getattr(exc, "errors", None)
    if errors:
        details["errors"] = errors
    message = f"{where}: {exc}" if where else str(exc)
    return ApiProblem(status, exc.code, message, details)


def conveyor_error_response(exc: ConveyorError) -> Response:
    problem = problem_of(exc)
    return error_response(problem.status, problem.code, problem.message, problem.details)


def _loc_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_response(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "INVALID_JSON", "the request body is not valid JSON")
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _loc_field(first.get("loc", ()))
    listed = [{"field": _loc_field(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors[:20]]
    return error_response(
        422, "VALIDATION_ERROR", f"{field}: {first.get('msg', 'invalid')}", {"field": field, "errors": listed}
    )


def install_error_handlers(api: FastAPI) -> None:
    async def on_conveyor(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConveyorError)
        return conveyor_error_response(exc)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return validation_response(exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "INTERNAL_ERROR", "internal error; see the server log")

    api.add_exception_handler(ConveyorError, on_conveyor)
    api.add_exception_handler(ApiProblem, on_problem)
    api.add_exception_handler(RequestValidationError, on_validation)
    api.add_exception_handler(StarletteHTTPException, on_http)
    api.add_exception_handler(Exception, on_unexpected)
