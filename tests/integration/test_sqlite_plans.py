"""SQLite query plans of the reads that must stay cheap however much history the file holds: each
seeks an index (or the rowid) instead of scanning the table, and none sorts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.store.sqlite.store import Q

LIST_PARAMS = {"status": None, "job_type": None, "queue": None, "parent_id": None, "cursor": 10, "limit": 51}


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "plans.db"
    Conveyor(f"sqlite:///{path}").open().close()  # migrated to the latest schema
    return sqlite3.connect(path)


def _plan(conn: sqlite3.Connection, sql: str, params: dict[str, object]) -> list[str]:
    return [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        ("job_list", {}, "INTEGER PRIMARY KEY"),
        ("job_list_parent", {"parent_id": "p"}, "conveyor_jobs_parent"),
        ("job_list_done", {"status": "failed"}, "conveyor_jobs_done_status"),
        ("stats_oldest_pending", {}, "conveyor_jobs_pending_any"),
    ],
)
def test_reads_seek_an_index_and_never_sort(conn: sqlite3.Connection, query: str, params: dict[str, object],
                                            index: str) -> None:
    plan = _plan(conn, Q[query], {**LIST_PARAMS, **params})
    assert any(index in step for step in plan), plan
    assert not any(step.startswith("SCAN conveyor_jobs") for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort


def test_retry_failed_uses_the_finished_index(conn: sqlite3.Connection) -> None:
    plan = _plan(conn, Q["job_retry_failed"], {"now": 1.0, "job_type": None, "queue": None})
    assert any("conveyor_jobs_done_status" in step for step in plan), plan
