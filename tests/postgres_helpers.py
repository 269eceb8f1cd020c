"""PostgreSQL test helpers: a fresh schema per test in the `test` database, dropped afterwards.

Isolation comes from the libpq `options=-csearch_path=<schema>` URL parameter, which
PostgresStore understands (migrate() creates the schema). Each URL also carries a unique
`application_name`, so a test can find — and terminate — exactly its own server connections.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

# Parameters for a fixture that runs a test once per store: `@pytest.fixture(params=STORES)`, then
# `with store_url_for(request.param, sqlite_url, "x") as url: yield url`.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def store_url_for(kind: str, sqlite_url: str, prefix: str = "t") -> Iterator[str]:
    """`sqlite_url`, or a store URL on a fresh PostgreSQL schema (dropped on exit; the test is
    skipped, or failed under CI=true, when PostgreSQL is unreachable)."""
    if kind == "sqlite":
        yield sqlite_url
        return
    from tests.conftest import require_postgres

    with fresh_schema(require_postgres(), prefix) as url:
        yield url


def schema_url(base: str, schema: str, application_name: str | None = None) -> str:
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    if application_name:
        url += f"&application_name={application_name}"
    return url


def new_schema_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def drop_schema(base: str, schema: str) -> None:
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        # Sessions of this test that are still open would hold locks the DROP waits on.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def fresh_schema(base: str, prefix: str = "t") -> Iterator[str]:
    """A store URL on a schema of its own (created by migrate), dropped on exit."""
    schema = new_schema_name(prefix)
    try:
        yield schema_url(base, schema, application_name=schema)
    finally:
        drop_schema(base, schema)


def schema_of(url: str) -> str:
    return url.split("search_path%3D", 1)[1].split("&", 1)[0]


def terminate_connections(base: str, application_name: str, query_prefix: str | None = None) -> int:
    """Kill this test's server sessions (all, or those whose last query starts with a prefix)."""
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid() AND (%s::text IS NULL OR query LIKE %s)",
            (application_name, query_prefix, f"{query_prefix}%"),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def pg_schema_snapshot(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullability, default) and index definitions of the URL's schema."""
    schema = schema_of(url)
    columns = query(
        url,
        "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity "
        "FROM information_schema.columns WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        (schema,),
    )
    indexes = query(
        url,
        "SELECT tablename, indexname, replace(indexdef, %s, 'S.') FROM pg_indexes "
        "WHERE schemaname = %s ORDER BY tablename, indexname",
        (f"{schema}.", schema),
    )
    options = query(
        url,
        "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname",
        (schema,),
    )
    return {"columns": columns, "indexes": indexes, "options": options}
