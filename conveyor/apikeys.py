"""API keys: a random key shown once at creation, only its SHA-256 stored, and three scopes.

A key looks like `cvk_<key_id>_<secret>`: the `key_id` part is public (listings, revoking), the
secret is 256 random bits. Scopes nest: `read` < `write` < `admin`.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import to_iso
from .errors import ConveyorError, InvalidJobOptions
from .store.params import ApiKeyFind, ApiKeyInsert, ApiKeyList, ApiKeyRecord, ApiKeyRevoke, ApiKeyTouch, AuditInsert

if TYPE_CHECKING:
    from .app import Conveyor

KEY_PREFIX = "cvk_"
MAX_NAME = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")
TOUCH_EVERY = 60.0  # seconds between `last_used_at` writes for one key


class Scope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Scope) -> bool:
        return self.rank >= needed.rank


_RANKS = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


class KeyNameTaken(ConveyorError):
    code = "KEY_EXISTS"


class KeyNotFound(ConveyorError):
    code = "KEY_NOT_FOUND"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as the surfaces show it (never the secret, never the hash)."""

    key_id: str
    name: str
    scope: Scope
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @classmethod
    def from_record(cls, r: ApiKeyRecord) -> ApiKey:
        return cls(r.key_id, r.name, Scope(r.scope), r.created_at, r.last_used_at, r.revoked_at)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scope": self.scope.value,
            "created_at": to_iso(self.created_at),
            "last_used_at": to_iso(self.last_used_at),
            "revoked_at": to_iso(self.revoked_at),
        }


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", errors="replace")).hexdigest()


def _parse_scope(scope: Scope | str) -> Scope:
    try:
        return Scope(scope)
    except ValueError:
        raise InvalidJobOptions(f"scope must be one of read, write, admin (got {scope!r})", field="scope") from None


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or not _NAME.match(name):
        raise InvalidJobOptions(
            f"key name must be 1–{MAX_NAME} characters: letters, digits and _.@:- (got {name!r})", field="name"
        )
    return name


class ApiKeys:
    """Create, verify, list and revoke keys; creating and revoking are audited as `actor`."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self._touched: dict[str, float] = {}

    def create(self, name: str, scope: Scope | str = Scope.READ, *, actor: str = "cli") -> tuple[ApiKey, str]:
        """A new key: the record and the key text, which exists nowhere else afterwards."""
        name, parsed = _check_name(name), _parse_scope(scope)
        key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        now = self.app.clock.now()
        record = self.app.store.api_key_insert(ApiKeyInsert(key_id, name, parsed.value, hash_key(key), now))
        if record is None:
            raise KeyNameTaken(f"an active API key named {name!r} exists; revoke it first or pick another name")
        self.app.store.audit_insert(
            AuditInsert(now, actor, "key.create", details={"key_id": key_id, "name": name, "scope": parsed.value})
        )
        return ApiKey.from_record(record), key

    def verify(self, key: str) -> ApiKey | None:
        """The active key matching this text, or None."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        record = self.app.store.api_key_find(ApiKeyFind(hash_key(key)))
        if record is None or record.revoked_at is not None:
            return None
        now = self.app.clock.now()
        if now - self._touched.get(record.key_id, 0.0) >= TOUCH_EVERY:
            self._touched[record.key_id] = now
            self.app.store.api_key_touch(ApiKeyTouch(record.key_id, now))
        return ApiKey.from_record(record)

    def list_keys(self, include_revoked: bool = False) -> list[ApiKey]:
        return [ApiKey.from_record(r) for r in self.app.store.api_key_list(ApiKeyList(include_revoked))]

    def revoke(self, name_or_id: str, *, actor: str = "cli") -> list[ApiKey]:
        now = self.app.clock.now()
        revoked = [ApiKey.from_record(r) for r in self.app.store.api_key_revoke(ApiKeyRevoke(name_or_id, now))]
        if not revoked:
            raise KeyNotFound(f"no active API key named or with id {name_or_id!r}")
        for key in revoked:
            self.app.store.audit_insert(
                AuditInsert(now, actor, "key.revoke", details={"key_id": key.key_id, "name": key.name})
            )
        return revoked
