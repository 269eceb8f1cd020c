"""An idle SQLite worker claims, and writes outcomes, on its event loop and must never wait there
for another writer: `wait=False` raises StoreBusy at once while the lock is held; the default waits."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, JobStatus
from conveyor.context import SyncJobContext
from conveyor.errors import StoreBusy
from conveyor.job import WorkerId
from conveyor.outcome import Transition
from conveyor.store.params import JobClaim, JobFinish
from tests.helpers import wait_for
from tests.integration.conftest import running_worker


def test_a_claim_that_must_not_wait_gives_up_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    app = Conveyor(f"sqlite:///{path}")
    job = app.enqueue("t", {})
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process mid-write
    claim = JobClaim(WorkerId("w"), None, 10, time.time(), 30.0)
    started = time.monotonic()
    with pytest.raises(StoreBusy):
        app.store.job_claim(JobClaim(claim.worker_id, None, 10, claim.now, 30.0, wait=False))
    assert time.monotonic() - started < 0.5  # at once, not after a busy wait
    releaser = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    releaser.start()
    result = app.store.job_claim(claim)  # the default waits for the lock, then claims
    releaser.join()
    assert [j.job_id for j in result.jobs] == [job.job_id]
    other.close()
    app.close()


def test_a_finish_that_must_not_wait_gives_up_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    app = Conveyor(f"sqlite:///{path}")
    app.enqueue("t", {})
    claimed = app.store.job_claim(JobClaim(WorkerId("w"), None, 1, time.time(), 30.0)).jobs[0]
    done = Transition(claimed, JobStatus.COMPLETED, results="ok")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreBusy):
        app.store.job_finish(JobFinish((done,), time.time(), wait=False))
    assert time.monotonic() - started < 0.5
    other.execute("COMMIT")
    assert app.get(claimed.job_id).status is JobStatus.RUNNING  # nothing half-written
    assert app.store.job_finish(JobFinish((done,), time.time())) == [claimed.job_id]
    assert app.get(claimed.job_id).results == "ok"
    other.close()
    app.close()


def test_a_worker_gone_idle_records_each_outcome_before_it_claims_the_next_job(tmp_path: Path) -> None:
    """A sync handler at concurrency 1: the outcome is written on the event loop before the next
    claim, so no store write shares the GIL with the next job's thread (Completer.write_now)."""
    app = Conveyor(f"sqlite:///{tmp_path / 'idle.db'}")
    app.register("work", lambda ctx, params: params["i"])
    jobs = [app.enqueue("work", {"i": i}) for i in range(8)]
    with running_worker(app, concurrency=1, claim_batch=1):
        done = [wait_for(lambda j=j: (got := app.get(j.job_id)).status.is_terminal and got) for j in jobs]
    assert [j.results for j in done] == list(range(8))
    for previous, following in itertools.pairwise(done):
        assert previous.finished_at_ts <= following.started_at_ts


def test_an_idle_worker_whose_store_is_locked_leaves_the_outcome_to_its_store_thread(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    app = Conveyor(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def hold_the_lock(ctx: SyncJobContext, params: dict[str, Any]) -> str:
        other.execute("BEGIN IMMEDIATE")  # held as the outcome is written: the inline write gives up
        threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
        return "done"

    app.register("hold", hold_the_lock)
    job = app.enqueue("hold", {})
    with running_worker(app, concurrency=1) as worker:
        finished = wait_for(lambda: (got := app.get(job.job_id)).status.is_terminal and got, timeout=10)
        assert worker.completer.applied == 1
    assert finished.status is JobStatus.COMPLETED and finished.results == "done"
    other.close()
