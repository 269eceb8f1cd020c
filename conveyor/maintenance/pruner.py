"""Retention: purges finished jobs older than `retention_seconds`, so the table stays small."""

from __future__ import annotations

import asyncio
import logging

from ..clock import Clock
from ..store import Store
from ..store.params import JobPurge
from ..worker.dbthread import DbThread

log = logging.getLogger("conveyor.pruner")


class Pruner:
    def __init__(self, store: Store, db: DbThread, clock: Clock, retention_seconds: float) -> None:
        self._store = store
        self._db = db
        self._clock = clock
        self._retention = retention_seconds
        self._interval = min(3600.0, max(60.0, retention_seconds / 10))

    async def prune_once(self) -> int:
        before = self._clock.now() - self._retention
        return await self._db.call(self._store.job_purge, JobPurge(finished_before=before))

    async def run(self) -> None:
        if self._retention <= 0:
            return
        while True:
            try:
                purged = await self.prune_once()
                if purged:
                    log.info("retention purged %d finished job(s)", purged)
            except Exception:
                log.exception("retention purge failed; retrying later")
            await asyncio.sleep(self._interval)
