"""Stores: where jobs live. Only `open_store` knows which backends exist."""

from __future__ import annotations

from ..errors import StoreError
from .port import Listener, Store, Wakeup


def open_store(url: str, *, create: bool = True) -> Store:
    """Open the store behind `url`; `create=False` refuses to make a new database (read commands)."""
    if url.startswith("sqlite:"):
        from .sqlite.store import SQLiteStore

        return SQLiteStore(url, create=create)
    if url.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres.store import PostgresStore
        except ImportError as exc:  # pragma: no cover - the module ships with the package
            raise StoreError(f"PostgreSQL store unavailable: {exc}") from exc
        return PostgresStore(url, create=create)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(f"unsupported database URL scheme {scheme!r}: use sqlite:///file.db or postgresql://…")


__all__ = ["Listener", "Store", "StoreError", "Wakeup", "open_store"]
