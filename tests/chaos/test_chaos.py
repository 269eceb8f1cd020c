"""The CI-sized chaos run (issue 6, acceptance 3): the same scenarios as `python -m chaos`, smaller.

Drain: 2,000 jobs on 4 worker processes, a random one SIGKILLed every 2 s (jobs sleep 100 ms, so
the drain lasts several kill periods); on PostgreSQL the server also restarts once. API: 2,000
POSTs with a kill -9 of the server halfway. Disk full: a 4 MB tmpfs (RLIMIT_FSIZE where mounting
is not permitted). Each test prints its table; a failed check fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from chaos.api import ApiConfig, run_api
from chaos.diskfull import DiskFullConfig, run_disk_full
from chaos.drain import DrainConfig, run_drain
from chaos.report import ScenarioReport, print_reports
from chaos.stores import postgres_store, restart_command, sqlite_store
from tests.conftest import IN_CI, require_postgres

pytestmark = pytest.mark.slow

CI_DRAIN = DrainConfig(jobs=2_000, job_ms=100, fault_seconds=30, recover_seconds=30, min_kills=2)
CI_API = ApiConfig(requests=2_000, deadline_seconds=60)


def _passes(report: ScenarioReport) -> None:
    print_reports([report], Console(width=130, force_terminal=False))  # shown by pytest on failure
    if report.skipped is not None:
        pytest.skip(report.skipped)
    failed = "; ".join(f"{row.label} = {row.value} (must be {row.expect})" for row in report.failures)
    assert report.ok, failed


def test_drain_under_sigkill_sqlite(tmp_path: Path) -> None:
    with sqlite_store(tmp_path) as target:
        _passes(run_drain(tmp_path, target, CI_DRAIN))


def test_drain_under_sigkill_and_server_restart_postgres(tmp_path: Path) -> None:
    base = require_postgres()
    command, why = restart_command(base)
    if command is None:
        if IN_CI:
            pytest.fail(f"CI=true requires restarting PostgreSQL: {why}")
        pytest.skip(f"cannot restart PostgreSQL here: {why}")
    with postgres_store(base) as target:
        _passes(run_drain(tmp_path, target, CI_DRAIN))


def test_api_server_kill9_mid_stream_sqlite(tmp_path: Path) -> None:
    with sqlite_store(tmp_path) as target:
        _passes(run_api(tmp_path, target, CI_API))


def test_api_server_kill9_mid_stream_postgres(tmp_path: Path) -> None:
    with postgres_store(require_postgres()) as target:
        _passes(run_api(tmp_path, target, CI_API))  # skips while API keys are not ported to PostgreSQL


def test_disk_full_sqlite(tmp_path: Path) -> None:
    _passes(run_disk_full(tmp_path, DiskFullConfig()))
