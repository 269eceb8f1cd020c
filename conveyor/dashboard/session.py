"""The dashboard's login session: a signed cookie naming an API key by its stored hash, and the
CSRF token derived from it. The key itself is never kept; every request re-reads the key record,
so revoking a key ends its dashboard sessions at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..apikeys import ApiKey

COOKIE = "conveyor_dashboard"
FLASH_COOKIE = "conveyor_flash"
SESSION_SECONDS = 12 * 3600.0
_VERSION = "s1"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the API key (name and scope) and the CSRF token for this session's forms."""

    key: ApiKey
    csrf: str


class SessionSigner:
    """Issues and checks `s1.<expires>.<key sha256>.<hmac>` cookies under a server secret.

    The secret is random per server process unless given, so sessions end when the server restarts
    (and do not carry across processes that do not share it)."""

    def __init__(self, secret: bytes | None = None, max_age: float = SESSION_SECONDS) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self.max_age = max_age

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._secret, "|".join(parts).encode(), hashlib.sha256).hexdigest()

    def issue(self, key_hash: str, now: float) -> str:
        expires = str(int(now + self.max_age))
        return f"{_VERSION}.{expires}.{key_hash}.{self._mac(_VERSION, expires, key_hash)}"

    def key_hash(self, cookie: str | None, now: float) -> str | None:
        """The key hash this cookie vouches for, or None (missing, forged, malformed or expired)."""
        if not cookie or len(cookie) > 300:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[1].isdigit():
            return None
        _, expires, key_hash, mac = parts
        if not hmac.compare_digest(mac, self._mac(_VERSION, expires, key_hash)):
            return None
        return key_hash if now < int(expires) else None

    def csrf_token(self, cookie: str) -> str:
        """The token every form of this session carries; hex, so no body filter ever trips on it."""
        return self._mac("csrf", cookie)

    def csrf_ok(self, cookie: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(cookie))
