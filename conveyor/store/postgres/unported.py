"""Store operations whose SQLite tables (migrations 0002+) are not ported to PostgreSQL yet.

They fail with a one-line `StoreError` naming what is missing, instead of an AttributeError or a
silent no-op. `job_insert` refuses webhooks, dependencies and batches for the same reason.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ...errors import StoreError
from ...job import Job
from ..limits import Limit
from ..params import (
    JobGet,
    LimitDelete,
    LimitPause,
    LimitSet,
    PeriodicFire,
    PeriodicRow,
    PeriodicUpsert,
)


def _missing(feature: str) -> NoReturn:
    raise StoreError(f"{feature} are not available on the PostgreSQL store yet (its migration is not ported)")


class UnportedOperations:
    # -- cron schedules and fleet-wide limits ---------------------------------------------------

    def periodic_upsert(self, p: PeriodicUpsert) -> None:
        _missing("periodic (cron) jobs")

    def periodic_list(self) -> list[PeriodicRow]:
        _missing("periodic (cron) jobs")

    def periodic_fire(self, p: PeriodicFire) -> list[Job] | None:
        _missing("periodic (cron) jobs")

    def limit_set(self, p: LimitSet) -> None:
        _missing("fleet-wide limits")

    def limit_pause(self, p: LimitPause) -> None:
        _missing("fleet-wide limits (and queue pause)")

    def limit_delete(self, p: LimitDelete) -> None:
        _missing("fleet-wide limits")

    def limit_list(self) -> list[Limit]:
        _missing("fleet-wide limits")

    # -- workflows (0004): job_insert refuses dependencies and batches -------------------------

    def job_dependency_results(self, p: JobGet) -> dict[str, Any]:
        return {}
