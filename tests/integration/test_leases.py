"""Lease heartbeats on a real SQLite store: which jobs a beat reports as taken from the worker.

A beat names the jobs in the worker's hands, then renews them in the store. An outcome written in
between leaves its job no longer running, hence not renewed: that job is done, not lost, and must
not be reported (a busy worker used to log a false "no longer ours" for a whole batch per beat).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from conveyor.clock import SystemClock
from conveyor.job import JobId, WorkerId
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store, open_store
from conveyor.store.params import JobRescue
from conveyor.worker.dbthread import DbThread
from conveyor.worker.lease import LeaseKeeper
from tests.store_contract.conftest import NOW, claim_one, finish, get, insert, new_job

WORKER = WorkerId("w1")


def _beat(store: Store, renew: list[JobId], held: list[JobId]) -> list[JobId]:
    """One beat naming `renew`, after which the worker still holds `held` (running, or outcome not
    sent yet). Returns the jobs reported lost."""
    lost: list[JobId] = []
    db = DbThread()
    keeper = LeaseKeeper(store, db, SystemClock(), WORKER, 30.0, lambda: renew, lost.append, {},
                         held_ids=lambda: held)
    try:
        asyncio.run(keeper.beat())
    finally:
        db.shutdown()
    return lost


def test_an_outcome_written_during_the_beat_is_not_a_lost_job(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'leases.db'}")
    store.migrate()
    try:
        insert(store, new_job())
        job = claim_one(store, worker=WORKER, now=NOW)
        # Its outcome committed after the beat named it (or is being written, the beat's UPDATE
        # waiting on that write's row lock): no longer held, and not lost.
        finish(store, Transition(job, JobStatus.COMPLETED, results=1))
        assert _beat(store, renew=[job.job_id], held=[]) == []
        assert get(store, job.job_id).status is JobStatus.COMPLETED
    finally:
        store.close()


def test_a_job_still_held_but_no_longer_running_here_is_reported(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'leases.db'}")
    store.migrate()
    try:
        insert(store, new_job(), new_job())
        kept = claim_one(store, worker=WORKER, now=NOW)
        taken = claim_one(store, worker=WORKER, now=NOW, lease=1.0)
        store.job_rescue_expired(JobRescue(now=NOW + 10))  # its lease ran out: back to pending
        assert get(store, taken.job_id).status is JobStatus.PENDING
        held = [kept.job_id, taken.job_id]
        assert _beat(store, renew=held, held=held) == [taken.job_id]
    finally:
        store.close()


def test_the_worker_holds_running_jobs_and_unsent_outcomes_not_the_batch_being_written(tmp_path: Path) -> None:
    """What the worker passes as held: an outcome on its way to the store is not, one still
    waiting for the next write is (its lease lost, that write will be refused)."""
    from conveyor import Conveyor
    from conveyor.outcome import Completed
    from conveyor.worker import Worker

    app = Conveyor(f"sqlite:///{tmp_path / 'worker.db'}")
    app.open()
    try:
        insert(app.store, new_job(), new_job())
        sent, unsent = (claim_one(app.store, worker=WORKER, now=NOW) for _ in range(2))

        async def look() -> tuple[list[JobId], list[JobId]]:
            worker = Worker(app, app.settings)
            worker.completer.submit(sent, Completed(None))
            worker.completer._in_flight, worker.completer._pending = worker.completer._pending, []
            worker.completer.submit(unsent, Completed(None))
            return worker.completer.unwritten_ids(), worker.leases._held_ids()

        renewed, held = asyncio.run(look())
        assert sorted(renewed) == sorted([sent.job_id, unsent.job_id])
        assert held == [unsent.job_id]
    finally:
        app.close()
