"""Rescues jobs whose worker died: an expired lease is a crash; requeue, or quarantine at max_crashes."""

from __future__ import annotations

import asyncio
import logging

from ..clock import Clock
from ..job import LogEntry
from ..store import Store
from ..store.params import JobRescue, LogInsert, RescueResult
from ..worker.dbthread import DbThread

log = logging.getLogger("conveyor.rescuer")


class Rescuer:
    def __init__(self, store: Store, db: DbThread, clock: Clock, lease_seconds: float) -> None:
        self._store = store
        self._db = db
        self._clock = clock
        self._interval = min(max(lease_seconds / 4, 0.25), 15.0)

    async def rescue_once(self) -> RescueResult:
        now = self._clock.now()
        result = await self._db.call(self._store.job_rescue_expired, JobRescue(now))
        for job_id in result.requeued:
            entry = LogEntry(now, "warning", "worker lease expired (worker presumed dead); job requeued")
            await self._db.call(self._store.log_insert, LogInsert(job_id, (entry,)))
        for job_id in result.quarantined:
            entry = LogEntry(now, "error", "worker crashed too many times on this job; failed with WORKER_CRASHED")
            await self._db.call(self._store.log_insert, LogInsert(job_id, (entry,)))
        if result.requeued:
            log.warning("requeued %d job(s) whose worker died", len(result.requeued))
            self._store.wakeup.notify("j:*")
        if result.quarantined:
            log.error("quarantined %d job(s) that kept crashing workers", len(result.quarantined))
        return result

    async def run(self) -> None:
        while True:
            try:
                await self.rescue_once()
            except Exception:
                log.exception("lease rescue failed; retrying")
            await asyncio.sleep(self._interval)
