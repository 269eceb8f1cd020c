"""Bearer API keys on `/api` routes: 401 without a valid key, 403 when its scope is too small."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..apikeys import ApiKey, Scope
from .errors import ApiProblem

bearer = HTTPBearer(auto_error=False, description="An API key made with `conveyor keys create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller's key, which must have at least `scope`."""

    async def authorize(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
    ) -> ApiKey:
        if credentials is None or not credentials.credentials:
            raise ApiProblem(401, "UNAUTHORIZED", "missing API key: send Authorization: Bearer <key>",
                             headers=_CHALLENGE)
        key: ApiKey | None = await request.app.state.services.authenticate(credentials.credentials)
        if key is None:
            raise ApiProblem(401, "UNAUTHORIZED", "invalid or revoked API key", headers=_CHALLENGE)
        if not key.scope.allows(scope):
            raise ApiProblem(
                403, "FORBIDDEN", f"this key's scope is {key.scope.value}; this needs {scope.value}",
                {"required_scope": scope.value, "key_scope": key.scope.value},
            )
        return key

    authorize.__name__ = f"require_{scope.value}"
    return authorize


READ = Security(require(Scope.READ))
WRITE = Security(require(Scope.WRITE))
ADMIN = Security(require(Scope.ADMIN))
