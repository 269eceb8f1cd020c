"""PostgreSQL-specific behaviour beyond the contract suite: transactional enqueue (issue 3,
acceptance 3), recovery from lost connections without a server restart (killed sessions), clear
errors for unreachable servers, schema isolation, and dependencies in the caller's transaction."""

from __future__ import annotations

import asyncio
import select
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor, InvalidJobOptions, JobContext, JobNotFound, JobStatus, StoreError
from conveyor.job import WorkerId
from conveyor.outcome import Transition
from conveyor.store import Listener, open_store
from conveyor.store.params import JobClaim, JobFinish, JobGet
from conveyor.store.postgres.store import PostgresStore
from tests.conftest import require_postgres
from tests.helpers import wait_for
from tests.integration.conftest import running_worker
from tests.postgres_helpers import fresh_schema, new_schema_name, schema_of, schema_url, terminate_connections

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app: Conveyor) -> Conveyor:
    return pg_app


def messages(listener: Listener, timeout: float) -> list[str]:
    """Whatever arrives within `timeout` (stops early once something did)."""
    r, _, _ = select.select([listener.fileno()], [], [], timeout)
    return listener.drain() if r else []


# -- transactional enqueue ----------------------------------------------------------------------


def test_rolled_back_enqueue_leaves_no_job_and_no_wakeup(app: Conveyor, pg_url: str) -> None:
    listener = app.store.wakeup.listen()
    try:
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TABLE documents (id serial PRIMARY KEY, name text)")
            conn.commit()
            conn.execute("INSERT INTO documents (name) VALUES ('a.pdf')")
            job = app.enqueue("pdf", {"doc": 1}, connection=conn)
            many = app.enqueue_many([("pdf", {"doc": 2}), ("pdf", {"doc": 3})], connection=conn)
            assert job.status is JobStatus.PENDING and len(many) == 2
            conn.rollback()
            assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
        for job_id in (job.job_id, *(j.job_id for j in many)):
            with pytest.raises(JobNotFound):
                app.get(job_id)
        assert app.list().jobs == []
        assert messages(listener, 0.3) == []
    finally:
        listener.close()


def test_committed_enqueue_is_invisible_until_commit_then_runs(app: Conveyor, pg_url: str) -> None:
    ran: list[str] = []

    @app.handler("pdf")
    async def pdf(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        ran.append(ctx.job_id)
        return {"doc": params["doc"]}

    listener = app.store.wakeup.listen()
    try:
        with psycopg.connect(pg_url) as conn:
            conn.execute("CREATE TABLE documents (id serial PRIMARY KEY, name text)")
            doc_id = conn.execute("INSERT INTO documents (name) VALUES ('a.pdf') RETURNING id").fetchone()[0]
            job = app.enqueue("pdf", {"doc": doc_id}, connection=conn)
            with pytest.raises(JobNotFound):
                app.get(job.job_id)  # other connections cannot see it yet
            assert messages(listener, 0.2) == []  # NOTIFY waits for COMMIT too
            conn.commit()
        assert messages(listener, 5.0) == ["j:default"]
        assert app.get(job.job_id).status is JobStatus.PENDING
        with running_worker(app):
            done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, what="job done")
        assert done.status is JobStatus.COMPLETED and done.results == {"doc": doc_id}
        assert ran == [job.job_id]
    finally:
        listener.close()


def test_autocommit_connection_commits_at_once(app: Conveyor, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        job = app.enqueue("pdf", {}, connection=conn, idempotency_key="doc-9")
        again = app.enqueue("pdf", {}, connection=conn, idempotency_key="doc-9")
    assert again.job_id == job.job_id
    assert app.get(job.job_id).status is JobStatus.PENDING


def test_caller_row_factory_does_not_matter(app: Conveyor, pg_url: str) -> None:
    from psycopg.rows import dict_row

    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        first = app.enqueue("pdf", {}, connection=conn, idempotency_key="k")
        again = app.enqueue("pdf", {}, connection=conn, idempotency_key="k")
        assert again.job_id == first.job_id
        conn.commit()
    assert app.get(first.job_id).idempotency_key == "k"


def test_async_enqueue_in_an_async_connection(app: Conveyor, pg_url: str) -> None:
    async def scenario() -> tuple[str, str, list[str]]:
        async with await psycopg.AsyncConnection.connect(pg_url) as aconn:
            rolled = await app.enqueue_async("pdf", {"n": 1}, connection=aconn)
            await aconn.rollback()
            kept = await app.enqueue_async("pdf", {"n": 2}, connection=aconn)
            batch = await app.enqueue_many_async([("pdf", {"n": 3}), ("pdf", {"n": 4})], connection=aconn)
            await aconn.commit()
        return rolled.job_id, kept.job_id, [j.job_id for j in batch]

    rolled, kept, batch = asyncio.run(scenario())
    with pytest.raises(JobNotFound):
        app.get(rolled)
    assert [app.get(i).parameters["n"] for i in (kept, *batch)] == [2, 3, 4]


def test_connection_that_cannot_see_the_tables_is_a_clear_error(app: Conveyor) -> None:
    elsewhere = schema_url(require_postgres(), new_schema_name("absent"))  # a search_path with no tables
    with psycopg.connect(elsewhere) as conn, pytest.raises(StoreError, match="cannot see Conveyor's tables"):
        app.enqueue("pdf", {}, connection=conn)


def test_sqlite_refuses_a_connection(tmp_path: Path) -> None:
    with Conveyor(f"sqlite:///{tmp_path / 'c.db'}") as app, pytest.raises(StoreError, match="PostgreSQL"):
        app.enqueue("pdf", {}, connection=object())


# -- commit modes ---------------------------------------------------------------------------------


def test_claims_commit_relaxed_and_outcomes_durably(app: Conveyor, pg_url: str) -> None:
    """Both run on the worker's relaxed pool (synchronous_commit off), but an outcome is what the
    job's submitter waits for: its transaction switches the WAL flush back on. A trigger of the
    test's own records the setting in force as each status change is written."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE commit_modes (n serial, status text, mode text)")
        conn.execute("""
            CREATE FUNCTION record_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO commit_modes (status, mode) VALUES (NEW.status, current_setting('synchronous_commit'));
                RETURN NULL;
            END $$""")
        conn.execute("CREATE TRIGGER record_commit_mode AFTER UPDATE OF status ON conveyor_jobs "
                      "FOR EACH ROW EXECUTE FUNCTION record_commit_mode()")
    job = app.enqueue("pdf", {})
    worker = WorkerId("w-commit-modes")
    claimed = app.store.job_claim(JobClaim(worker, None, 10, time.time(), 30.0)).jobs
    assert [j.job_id for j in claimed] == [job.job_id]
    applied = app.store.job_finish(JobFinish((Transition(claimed[0], JobStatus.COMPLETED, results=None),), time.time()))
    assert applied == [job.job_id]
    with psycopg.connect(pg_url) as conn:
        modes = conn.execute("SELECT status, mode FROM commit_modes ORDER BY n").fetchall()
    assert modes == [("running", "off"), ("completed", "on")]
    # and the session goes back to relaxed commits for the next claim
    second = app.enqueue("pdf", {})
    claimed = app.store.job_claim(JobClaim(worker, None, 10, time.time(), 30.0)).jobs
    assert [j.job_id for j in claimed] == [second.job_id]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT mode FROM commit_modes ORDER BY n DESC LIMIT 1").fetchall()[0] == ("off",)


# -- connection loss without a restart: killed sessions ----------------------------------------


def test_pool_recovers_after_its_connections_are_killed(app: Conveyor, pg_url: str) -> None:
    first = app.enqueue("pdf", {})
    assert terminate_connections(require_postgres(), schema_of(pg_url)) >= 1
    assert app.get(first.job_id).job_id == first.job_id  # a stale pooled connection is replaced
    second = app.enqueue("pdf", {})
    assert [j.job_id for j in app.list().jobs] == [second.job_id, first.job_id]


def test_listener_reconnects_after_its_session_is_killed(app: Conveyor, pg_url: str) -> None:
    listener = app.store.wakeup.listen()
    try:
        assert terminate_connections(require_postgres(), schema_of(pg_url), query_prefix="LISTEN") == 1
        got = messages(listener, 10.0)
        assert got == ["j:*", "s:0"]  # reconnected: "look again, you may have missed something"
        assert listener.fileno() == listener.fileno()  # the same fd asyncio registered
        app.store.wakeup.notify("j:after")
        assert wait_for(lambda: messages(listener, 0.5), timeout=10) == ["j:after"]
    finally:
        listener.close()


def test_unreachable_server_is_a_one_line_store_error() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "\n" not in message and "127.0.0.1:1/test" in message and "unreachable" in message


def test_a_server_that_goes_away_is_a_one_line_store_error() -> None:
    base = require_postgres()
    name = f"gone_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    store = open_store(base.rsplit("/", 1)[0] + f"/{name}")
    try:
        store.migrate()
        store._db.timeout = 2.0  # type: ignore[attr-defined]  # don't wait the default 10 s here
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())
        with pytest.raises(StoreError) as info:
            store.job_get(JobGet("x"))
        message = str(info.value)
        assert "\n" not in message and "unreachable" in message and name in message
    finally:
        store.close()


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid PostgreSQL URL"):
        open_store("postgresql://postgres@127.0.0.1:5432/test?nonsense_option=1")


# -- isolation -----------------------------------------------------------------------------------------


def test_two_schemas_share_nothing(pg_url: str) -> None:
    with fresh_schema(require_postgres(), "other") as other_url:
        mine, theirs = open_store(pg_url), open_store(other_url)
        try:
            mine.migrate()
            theirs.migrate()
            assert isinstance(mine, PostgresStore) and mine.target.channel != theirs.target.channel  # type: ignore[attr-defined]
            with Conveyor(pg_url) as a, Conveyor(other_url) as b:
                job = a.enqueue("x", {})
                with pytest.raises(JobNotFound):
                    b.get(job.job_id)
        finally:
            mine.close()
            theirs.close()


# -- dependencies in the caller's transaction -----------------------------------------------------


def test_dependencies_in_the_callers_transaction(app: Conveyor, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        first = app.enqueue("pdf", {}, connection=conn)
        second = app.enqueue("pdf", {}, connection=conn, depends_on=[first.job_id])
        assert second.status is JobStatus.WAITING
        with pytest.raises(InvalidJobOptions, match="no-such-job"):  # refused: only its savepoint is undone
            app.enqueue("pdf", {}, connection=conn, depends_on=["no-such-job"])
        conn.commit()
    assert app.get(second.job_id).depends_on == (first.job_id,)
    assert {j.job_id for j in app.list().jobs} == {first.job_id, second.job_id}
    with psycopg.connect(pg_url) as conn:
        app.enqueue("pdf", {}, connection=conn, depends_on=[first.job_id])
        conn.rollback()
    assert len(app.list().jobs) == 2


def test_async_enqueue_with_dependencies(app: Conveyor, pg_url: str) -> None:
    async def scenario() -> tuple[str, str]:
        async with await psycopg.AsyncConnection.connect(pg_url) as aconn:
            first = await app.enqueue_async("pdf", {}, connection=aconn)
            second = await app.enqueue_async("pdf", {}, connection=aconn, depends_on=[first.job_id])
            with pytest.raises(InvalidJobOptions):
                await app.enqueue_async("pdf", {}, connection=aconn, depends_on=["nope"])
            await aconn.commit()
        return first.job_id, second.job_id

    first, second = asyncio.run(scenario())
    assert app.get(second).status is JobStatus.WAITING and app.get(second).depends_on == (first,)
