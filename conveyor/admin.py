"""Operator actions shared by every surface (API, CLI, dashboard): each runs the job operation,
then records who did it in the audit log (`actor`: an API key's name, or "cli")."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .clock import to_iso
from .job import Job
from .store.params import AuditInsert, AuditList, AuditPage, AuditRecord

if TYPE_CHECKING:
    from .app import Conveyor


def audit_to_dict(entry: AuditRecord) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": to_iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "job_ids": list(entry.job_ids),
        "details": entry.details,
    }


class Operator:
    """`Operator(app, actor="cli").cancel(job_id)`: the app's admin actions, audited."""

    def __init__(self, app: Conveyor, actor: str) -> None:
        self.app = app
        self.actor = actor

    def record(self, action: str, job_ids: tuple[str, ...] = (), **details: Any) -> None:
        self.app.store.audit_insert(AuditInsert(self.app.clock.now(), self.actor, action, job_ids, details))

    def cancel(self, job_id: str, reason: str | None = None) -> Job:
        job = self.app.cancel(job_id, reason or f"cancelled by {self.actor}")
        self.record("job.cancel", (job.job_id,))
        return job

    def retry(self, job_id: str) -> Job:
        job = self.app.retry(job_id)
        self.record("job.retry", (job.job_id,))
        return job

    def retry_failed(self, job_type: str | None = None, queue: str | None = None) -> int:
        count = self.app.retry_failed(job_type=job_type, queue=queue)
        self.record("jobs.retry_failed", count=count, job_type=job_type, queue=queue)
        return count

    def delete(self, job_id: str) -> None:
        self.app.delete(job_id)
        self.record("job.delete", (str(job_id),))

    def purge(self, older_than: timedelta | float = timedelta(days=7)) -> int:
        count = self.app.purge(older_than)
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else float(older_than)
        self.record("jobs.purge", count=count, older_than_sec=seconds)
        return count


def audit_list(
    app: Conveyor,
    limit: int = 50,
    cursor: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    job_id: str | None = None,
) -> AuditPage:
    """The audit log, newest first."""
    return app.store.audit_list(AuditList(limit, cursor, actor, action, job_id))
