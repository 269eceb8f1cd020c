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


def _beat(store: Store, running_ids: list[list[JobId]]) -> list[JobId]:
    """One beat; `running_ids` are what the worker holds at each look. Returns the jobs reported lost."""
    lost: list[JobId] = []
    looks = iter(running_ids)
    db = DbThread()
    keeper = LeaseKeeper(store, db, SystemClock(), WORKER, 30.0, lambda: next(looks), lost.append, {})
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
        finish(store, Transition(job, JobStatus.COMPLETED, results=1))  # written after the beat named it
        assert _beat(store, [[job.job_id], []]) == []
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
        assert _beat(store, [held, held]) == [taken.job_id]
    finally:
        store.close()
