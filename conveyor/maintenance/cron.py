"""Periodic jobs: every worker watches the schedules; a compare-and-set on the schedule row makes
exactly one of them enqueue each tick, however many processes or machines run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import Clock, to_iso
from ..job import NewJob
from ..store import Store
from ..store.params import PeriodicFire, PeriodicRow, PeriodicUpsert

if TYPE_CHECKING:
    from ..app import Conveyor
    from ..worker.dbthread import DbThread

log = logging.getLogger("conveyor.cron")

MISSED_POLICIES = ("run_once", "run_all", "skip")
MAX_BACKFILL = 100  # run_all enqueues at most this many missed ticks at once
ON_TIME_SECONDS = 60.0  # "skip" still runs a tick this late; older ones are dropped


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    schedule: str
    job_type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    missed: str = "run_once"

    def next_after(self, ts: float) -> float:
        from croniter import croniter  # here: ~30 ms of imports that an app without cron skips

        return float(croniter(self.schedule, ts).get_next(float))


def validate_schedule(schedule: str) -> None:
    from croniter import croniter

    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        raise ValueError(f"invalid cron schedule {schedule!r} (expected e.g. '0 * * * *')")


def due_ticks(periodic: Periodic, first: float, now: float) -> tuple[list[float], float]:
    """The ticks from `first` up to `now` (capped), and the first tick after `now`."""
    ticks = [first]
    nxt = periodic.next_after(first)
    while nxt <= now:
        if len(ticks) < MAX_BACKFILL:
            ticks.append(nxt)
        else:
            ticks[-1] = nxt
        nxt = periodic.next_after(nxt)
    return ticks, nxt


def ticks_to_run(periodic: Periodic, ticks: list[float], now: float) -> list[float]:
    if periodic.missed == "run_all":
        return ticks
    if periodic.missed == "skip":
        return [t for t in ticks[-1:] if now - t <= ON_TIME_SECONDS]
    return ticks[-1:]  # run_once: one job stands for every missed tick


class Scheduler:
    def __init__(self, app: Conveyor, store: Store, db: DbThread, clock: Clock) -> None:
        self._app = app
        self._store = store
        self._db = db
        self._clock = clock

    @property
    def periodics(self) -> dict[str, Periodic]:
        return self._app.periodic_jobs

    async def register(self) -> None:
        now = self._clock.now()
        for p in self.periodics.values():
            row = PeriodicUpsert(p.name, p.schedule, p.job_type, p.parameters, p.options, p.missed, p.next_after(now))
            await self._db.call(self._store.periodic_upsert, row)

    def _jobs_for(self, p: Periodic, ticks: list[float]) -> tuple[NewJob, ...]:
        jobs = []
        for tick in ticks:
            metadata = {**p.options.get("metadata", {}), "periodic": p.name, "tick": to_iso(tick)}
            options = {**p.options, "metadata": metadata}
            jobs.append(self._app.build_job(p.job_type, dict(p.parameters), **options))
        return tuple(jobs)

    async def fire_due(self) -> float | None:
        """Enqueue what is due (if this process wins the tick); return the next due time."""
        rows: list[PeriodicRow] = await self._db.call0(self._store.periodic_list)
        now = self._clock.now()
        upcoming: list[float] = []
        for row in rows:
            p = self.periodics.get(row.name)
            if p is None or p.schedule != row.schedule:
                continue  # not ours (or another deploy's version): leave it to its owner
            if row.next_run_at > now:
                upcoming.append(row.next_run_at)
                continue
            ticks, nxt = due_ticks(p, row.next_run_at, now)
            fire = PeriodicFire(p.name, row.next_run_at, nxt, ticks[-1], self._jobs_for(p, ticks_to_run(p, ticks, now)))
            jobs = await self._db.call(self._store.periodic_fire, fire)
            if jobs is not None:
                log.info("periodic %s: enqueued %d job(s) for tick %s", p.name, len(jobs), to_iso(ticks[-1]))
                self._app.announce(jobs)
            upcoming.append(nxt)
        return min(upcoming) if upcoming else None

    async def run(self) -> None:
        if not self.periodics:
            return
        await self.register()
        while True:
            try:
                nxt = await self.fire_due()
            except Exception:
                log.exception("periodic scheduling failed; retrying")
                nxt = None
            delay = 30.0 if nxt is None else min(30.0, max(0.0, nxt - self._clock.now()))
            await asyncio.sleep(delay + 0.001)
