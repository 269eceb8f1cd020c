"""Lease heartbeats: extend this worker's leases and learn which jobs it no longer owns."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

from ..clock import Clock
from ..job import JobId, WorkerId
from ..store import Store
from ..store.params import JobHeartbeat, WorkerBeat
from .dbthread import DbThread

log = logging.getLogger("conveyor.worker")


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        db: DbThread,
        clock: Clock,
        worker_id: WorkerId,
        lease_seconds: float,
        running_ids: Callable[[], list[JobId]],
        on_lost: Callable[[JobId], None],
        info: dict[str, object],
        held_ids: Callable[[], list[JobId]],
    ) -> None:
        self._store = store
        self._db = db
        self._clock = clock
        self._worker_id = worker_id
        self._lease = lease_seconds
        self._running_ids = running_ids  # every lease to renew, outcomes being written included
        self._held_ids = held_ids  # those whose loss matters (see beat)
        self._on_lost = on_lost
        self._info = {"hostname": socket.gethostname(), "pid": os.getpid(), **info}

    @property
    def interval(self) -> float:
        # Three beats per lease: one lost beat never costs a live worker its jobs.
        return self._lease / 3

    async def beat(self) -> None:
        ids = tuple(self._running_ids())
        if ids:
            params = JobHeartbeat(self._worker_id, ids, self._clock.now(), self._lease)
            not_renewed = await self._db.call(self._store.job_heartbeat, params)
            if not_renewed:
                # Not renewed: no longer running here. A job whose outcome is being written, or was
                # written since the beat named it, is done, not lost (the beat's UPDATE may even
                # have waited for that write's row locks). Only a job still running, or whose
                # outcome has not been sent yet, was taken from us.
                held = set(self._held_ids())
                for job_id in not_renewed:
                    if job_id in held:
                        self._on_lost(job_id)
        info = {**self._info, "running": len(ids)}
        await self._db.call(self._store.worker_beat, WorkerBeat(self._worker_id, self._clock.now(), info))

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:
                log.exception("lease heartbeat failed; retrying")
            await asyncio.sleep(self.interval)

    async def stopped(self) -> None:
        beat = WorkerBeat(self._worker_id, self._clock.now(), self._info, stopping=True)
        await self._db.call(self._store.worker_beat, beat)
