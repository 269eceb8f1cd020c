"""Acceptance 8: bad input gives one `Error…` line and a non-zero exit, touches nothing, loses nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from .conftest import Cli, assert_one_line_error, file_state, folder_listing

MISSING_ID = "01900000-0000-7000-8000-000000000000"

# (arguments, expected exit code, text the error line must contain)
BAD_INPUT = [
    (["enqueue", "no_such_type"], 1, "unknown job_type 'no_such_type'"),
    (["enqueue", "sleep", "--param", "seconds=-1"], 1, "seconds"),
    (["enqueue", "sleep", "--param", "seconds=forever"], 1, "seconds"),
    (["enqueue", "echo", "--param", "novalue"], 2, "--param"),
    (["enqueue", "echo", "--param", "=1"], 2, "empty key"),
    (["enqueue", "echo", "--json", "[1, 2]"], 2, "JSON object"),
    (["enqueue", "echo", "--json", "{bad"], 2, "not valid JSON"),
    (["enqueue", "echo", "--delay", "10 parsecs"], 2, "--delay"),
    (["enqueue", "echo", "--delay", "-5s"], 2, "--delay"),
    (["enqueue", "echo", "--timeout", "0"], 2, "--timeout"),
    (["enqueue", "echo", "--run-at", "tomorrow"], 2, "--run-at"),
    (["enqueue", "echo", "--delay", "1s", "--run-at", "2030-01-01T00:00:00Z"], 2, "not both"),
    (["enqueue", "echo", "--priority", "11"], 2, "--priority"),
    (["jobs", "--status", "finished"], 2, "'pending', 'running', 'completed', 'failed', 'cancelled'"),
    (["jobs", "--limit", "0"], 2, "--limit"),
    (["status", MISSING_ID], 1, "not found"),
    (["logs", MISSING_ID], 1, "not found"),
    (["purge", "--older-than", "soon"], 2, "--older-than"),
    (["purge"], 2, "--older-than"),
    (["retry"], 2, "a job ID or --all-failed"),
    (["retry", MISSING_ID, "--all-failed"], 2, "a job ID or --all-failed"),
    (["retry", MISSING_ID, "--type", "echo"], 2, "--type and --queue go with --all-failed"),
    (["cancel", MISSING_ID], 1, "not found"),
]


def test_bad_input_is_one_line_error_and_loses_nothing(cli: Cli, db_path: Path) -> None:
    stored = [cli.enqueue("echo", "--param", f"i={i}") for i in range(3)]
    before = file_state(db_path)
    assert before is not None
    results = cli.run_many([args for args, _, _ in BAD_INPUT])
    for (args, code, text), result in zip(BAD_INPUT, results, strict=True):
        line = assert_one_line_error(result, exit_code=code)
        assert text in line, (args, line)
    assert file_state(db_path) == before, "bad input changed the database file"
    jobs = cli.json("jobs")["jobs"]
    assert sorted(j["job_id"] for j in jobs) == sorted(stored)
    assert {j["status"] for j in jobs} == {"pending"}


READ_AND_ADMIN_COMMANDS = [
    ["jobs"],
    ["stats"],
    ["status", MISSING_ID],
    ["logs", MISSING_ID],
    ["cancel", MISSING_ID],
    ["retry", MISSING_ID],
    ["purge", "--older-than", "7d"],
]


def test_commands_on_missing_database_do_not_create_it(cli: Cli, db_path: Path, tmp_path: Path) -> None:
    before = folder_listing(tmp_path)
    for args, result in zip(READ_AND_ADMIN_COMMANDS, cli.run_many(READ_AND_ADMIN_COMMANDS), strict=True):
        line = assert_one_line_error(result, exit_code=1)
        assert "does not exist" in line, (args, line)
    assert not db_path.exists()
    assert folder_listing(tmp_path) == before


def write_corrupt(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def write_foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("make_file", "reason"),
    [(write_corrupt, "not a SQLite database"), (write_foreign, "another application")],
    ids=["corrupt", "foreign"],
)
def test_corrupt_or_foreign_file_is_refused_and_left_untouched(
    cli: Cli, db_path: Path, tmp_path: Path, make_file: object, reason: str
) -> None:
    make_file(db_path)  # type: ignore[operator]
    before, listing = file_state(db_path), folder_listing(tmp_path)
    commands = [["enqueue", "echo"], ["migrate"], ["worker"], *READ_AND_ADMIN_COMMANDS]
    for args, result in zip(commands, cli.run_many(commands), strict=True):
        line = assert_one_line_error(result, exit_code=1)
        assert reason in line, (args, line)
    assert file_state(db_path) == before, "the file was changed"
    assert folder_listing(tmp_path) == listing, "files were left behind"
