"""The store contract suite runs every test once per backend: SQLite (a temp file) and PostgreSQL
(a fresh schema in the `test` database; skipped, or failed under CI=true, when unreachable).

Tests talk to the store only through the `Store` protocol; `Backend` adds the few raw looks a
contract test needs (schema snapshots, applying migrations by hand, reading the workers table).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conveyor.job import ClaimedJob, Job, JobId, NewJob, WorkerId, new_job_id
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store, open_store
from conveyor.store.params import ClaimResult, JobClaim, JobFinish, JobGet, JobInsert
from conveyor.store.queries import load_migrations, load_queries
from tests.conftest import require_postgres
from tests.postgres_helpers import drop_schema, new_schema_name, pg_schema_snapshot, query, schema_url

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every test injects time, nothing sleeps


@dataclass
class Backend:
    kind: str  # "sqlite" | "postgres"
    make_url: Callable[[], str]  # a URL on a new, empty database (file or schema)
    url: str = ""
    _stores: list[Store] = field(default_factory=list)

    def open(self, url: str | None = None, migrate: bool = True) -> Store:
        store = open_store(url or self.url)
        self._stores.append(store)
        if migrate:
            store.migrate()
        return store

    def close_all(self) -> None:
        for store in self._stores:
            with contextlib.suppress(Exception):
                store.close()

    @property
    def package(self) -> str:
        return "conveyor.store.sqlite" if self.kind == "sqlite" else "conveyor.store.postgres"

    def raw(self, url: str, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        return query(url, sql, params or None)

    def snapshot(self, url: str) -> Any:
        if self.kind == "sqlite":
            return self.raw(
                url,
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
            )
        return pg_schema_snapshot(url)

    def apply_by_hand(self, url: str, up_to: int) -> None:
        """Run migration files 1..up_to as plain scripts, recording each version, as an older
        release of Conveyor would have left the database."""
        queries = load_queries(self.package)
        migrations = [m for m in load_migrations(self.package) if m.version <= up_to]
        if self.kind == "sqlite":
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            try:
                conn.executescript(queries["schema_version_create"])
                for m in migrations:
                    conn.executescript(m.sql)
                    conn.execute("INSERT INTO conveyor_schema_version VALUES (?, ?)", (m.version, time.time()))
                conn.commit()
            finally:
                conn.close()
            return
        import psycopg

        schema = url.split("search_path%3D", 1)[1].split("&", 1)[0]
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'.encode())
            conn.execute(queries["schema_version_create"].encode())
            for m in migrations:
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO conveyor_schema_version VALUES (%s, %s)", (m.version, time.time())
                )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        counter = iter(range(1_000_000))
        backend = Backend("sqlite", lambda: f"sqlite:///{tmp_path / f'contract-{next(counter)}.db'}")
        backend.url = backend.make_url()
        yield backend
        backend.close_all()
        return
    base = require_postgres()
    schemas: list[str] = []

    def make_url() -> str:
        schemas.append(new_schema_name("contract"))
        return schema_url(base, schemas[-1], application_name=schemas[-1])

    backend = Backend("postgres", make_url)
    backend.url = make_url()
    yield backend
    backend.close_all()
    for schema in schemas:
        drop_schema(base, schema)


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def new_job(**overrides: Any) -> NewJob:
    """A pending job due now; any NewJob field can be overridden."""
    fields: dict[str, Any] = {
        "job_id": new_job_id(),
        "job_type": "task",
        "queue": "default",
        "priority": 5,
        "parameters": {"n": 1},
        "status": JobStatus.PENDING,
        "run_at": NOW,
        "max_attempts": 3,
        "max_crashes": 3,
        "timeout": None,
        "created_at": NOW,
    }
    fields.update(overrides)
    if fields["status"] is JobStatus.PENDING and fields["run_at"] > NOW:
        fields["status"] = JobStatus.SCHEDULED
    return NewJob(**fields)


def insert(store: Store, *jobs: NewJob) -> list[tuple[Job, bool]]:
    return store.job_insert(JobInsert(tuple(jobs)))


def claim(
    store: Store,
    worker: str = "w1",
    limit: int = 10,
    now: float = NOW,
    lease: float = 30.0,
    queues: tuple[str, ...] | None = None,
    promote: bool = True,
) -> ClaimResult:
    return store.job_claim(JobClaim(WorkerId(worker), queues, limit, now, lease, promote_due=promote))


def claim_one(store: Store, **kwargs: Any) -> ClaimedJob:
    jobs = claim(store, limit=1, **kwargs).jobs
    assert len(jobs) == 1, f"expected one claimable job, got {len(jobs)}"
    return jobs[0]


def finish(store: Store, *transitions: Transition, now: float = NOW + 1) -> list[JobId]:
    return store.job_finish(JobFinish(tuple(transitions), now))


def get(store: Store, job_id: str) -> Job:
    job = store.job_get(JobGet(job_id))
    assert job is not None, f"job {job_id} not found"
    return job
