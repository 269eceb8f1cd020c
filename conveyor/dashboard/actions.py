"""The dashboard's operator actions: each needs a scope, runs through the API's services on the
write thread as an audited `Operator` under the logged-in key's name, and returns what to tell
the operator. Conveyor errors (e.g. cancelling a finished job) propagate for the caller to show."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ..admin import Operator
from ..apikeys import ApiKey, Scope
from ..errors import InvalidJobOptions

if TYPE_CHECKING:
    from ..api.services import ApiServices

MAX_PURGE_DAYS = 36500.0
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Needs:
    """The scope each action requires (the API's rule where the API has the action)."""

    cancel: Scope = Scope.WRITE
    retry: Scope = Scope.WRITE
    retry_failed: Scope = Scope.WRITE
    delete: Scope = Scope.ADMIN
    purge: Scope = Scope.ADMIN
    pause: Scope = Scope.ADMIN


NEEDS = Needs()


def short(job_id: str) -> str:
    """The random tail of a job id: its head is a timestamp, shared by jobs created together."""
    return job_id[-8:]


async def cancel(svc: ApiServices, key: ApiKey, job_id: str) -> str:
    job = await svc.cancel(job_id, key)
    return f"Job {job.job_id} cancelled."


async def retry(svc: ApiServices, key: ApiKey, job_id: str) -> str:
    job = await svc.retry(job_id, key)
    return f"Job {job.job_id} queued again (status {job.status.value})."


async def delete(svc: ApiServices, key: ApiKey, job_id: str) -> str:
    await svc.delete(job_id, key)
    return f"Job {job_id} deleted."


def _optional_name(value: str | None, field: str) -> str | None:
    value = (value or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidJobOptions(f"{field} must be at most {MAX_NAME} characters", field=field)
    return value or None


async def retry_failed(svc: ApiServices, key: ApiKey, job_type: str | None, queue: str | None) -> str:
    kind, lane = _optional_name(job_type, "job_type"), _optional_name(queue, "queue")
    count = await svc.write(Operator(svc.app, key.name).retry_failed, kind, lane)
    scope = " ".join(part for part in (f"of type {kind}" if kind else "", f"in queue {lane}" if lane else "") if part)
    noun = "job" if count == 1 else "jobs"
    return f"Queued {count} failed {noun}{' ' + scope if scope else ''} for retry."


def parse_days(text: str | None) -> float:
    try:
        days = float((text or "").strip())
    except ValueError:
        raise InvalidJobOptions("older than: give a number of days, e.g. 7 or 0.5", field="older_than_days") from None
    if not math.isfinite(days) or not 0 <= days <= MAX_PURGE_DAYS:
        raise InvalidJobOptions(f"older than: days must be 0–{MAX_PURGE_DAYS:g}", field="older_than_days")
    return days


async def purge(svc: ApiServices, key: ApiKey, days_text: str | None) -> str:
    days = parse_days(days_text)
    count = await svc.purge(timedelta(days=days).total_seconds(), key)
    noun = "job" if count == 1 else "jobs"
    return f"Purged {count} finished {noun} older than {days:g} day{'' if days == 1 else 's'}."


async def set_paused(svc: ApiServices, key: ApiKey, queue: str | None, paused: bool) -> str:
    name = _optional_name(queue, "queue")
    if name is None:
        raise InvalidJobOptions("name the queue to pause or resume", field="queue")

    def run() -> None:
        (svc.app.pause_queue if paused else svc.app.resume_queue)(name)
        Operator(svc.app, key.name).record("queue.pause" if paused else "queue.resume", queue=name)

    await svc.write(run)
    if paused:
        return f"Queue {name} paused: workers start no new jobs from it (running ones finish)."
    return f"Queue {name} resumed."
