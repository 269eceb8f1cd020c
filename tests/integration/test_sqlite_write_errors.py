"""SQLite writes that fail inside the transaction (disk full, I/O error) end as a StoreError."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conveyor import Conveyor, StoreError


def test_a_write_sqlite_rolled_back_itself_is_a_store_error_and_the_store_carries_on(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        store = app.store
        with pytest.raises(StoreError, match="database or disk is full"), store._write() as conn:  # type: ignore[attr-defined]
            conn.execute("ROLLBACK")  # what SQLite does on its own after SQLITE_FULL / SQLITE_IOERR
            raise sqlite3.OperationalError("database or disk is full")
        job = app.enqueue("anything", {"n": 1})
        assert app.get(job.job_id).parameters == {"n": 1}
    finally:
        app.close()


def test_a_programming_error_inside_a_write_is_not_disguised(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with pytest.raises(sqlite3.IntegrityError), app.store._write():  # type: ignore[attr-defined]
            raise sqlite3.IntegrityError("UNIQUE constraint failed")
        assert app.enqueue("anything").job_id
    finally:
        app.close()
