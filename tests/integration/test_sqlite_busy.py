"""An idle SQLite worker claims on its event loop and must never wait there for another writer:
`JobClaim(wait=False)` raises StoreBusy at once while the lock is held; the default waits."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreBusy
from conveyor.job import WorkerId
from conveyor.store.params import JobClaim


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
