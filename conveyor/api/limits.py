"""Edge limits on request bodies, before any parsing: size (413), then JSON shape (nesting depth,
NaN/Infinity, broken UTF-8 or lone surrogates: 400/422), so no body can make the server fail."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_body

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE = re.compile(rb"\\u(d[89ab][0-9a-f]{2})(\\u(d[c-f][0-9a-f]{2}))?|\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_NON_FINITE = re.compile(rb"NaN|Infinity")
_BRACKETS = bytes.maketrans(b"", b"")
_KEEP = b"[]{}"
_DELETE = bytes(sorted(set(range(256)) - set(_KEEP)))
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = frozenset({b"application/x-www-form-urlencoded", b"multipart/form-data"})


def json_problem(body: bytes, max_depth: int) -> tuple[int, str, str] | None:
    """(status, code, message) if this body must be refused before parsing, else None."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "INVALID_JSON", "the request body is not UTF-8"
    for match in _SURROGATE.finditer(body):
        if match.group(4) is not None or match.group(2) is None:
            return 422, "INVALID_JSON", "the request body has a lone UTF-16 surrogate escape"
    bare = _STRING.sub(b'""', body)
    if _NON_FINITE.search(bare):
        return 422, "INVALID_JSON", "NaN and Infinity are not JSON numbers"
    brackets = bare.translate(_BRACKETS, _DELETE)
    if len(brackets) <= max_depth:
        return None
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return 422, "TOO_DEEP", f"the request body nests deeper than {max_depth} levels"
        else:
            depth -= 1
    return None


class BodyLimits:
    """ASGI middleware: refuse bodies over `max_bytes` (413) or malformed as above."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, 413, "PAYLOAD_TOO_LARGE", self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, "PAYLOAD_TOO_LARGE", self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = json_problem(body, self.max_depth) if body and not _is_form(scope) else None
        if problem is not None:
            await self._refuse(send, *problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        payload = json.dumps(error_body(code, message, {"limit_bytes": self.max_bytes} if status == 413 else {}))
        data = payload.encode()
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": data})


def _is_form(scope: Scope) -> bool:
    """An HTML form post (the dashboard): its text is not JSON, so only the size limit applies."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.split(b";")[0].strip().lower() in _FORM_TYPES
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: Any = await receive()
        return message  # type: ignore[no-any-return]

    return replay
