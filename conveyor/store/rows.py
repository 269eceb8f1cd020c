"""Rows of `job_get.sql` (same columns in every dialect) → `Job`. Stores pass how to decode their
JSON columns: SQLite hands back text, psycopg has already decoded them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..job import Job, JobId
from ..status import JobStatus


def _as_is(value: Any) -> Any:
    return value


def job_from_row(row: Sequence[Any], decode: Callable[[Any], Any] = _as_is) -> Job:
    """`decode` turns a stored JSON column into its value (None stays None)."""
    return Job(
        cursor=str(row[0]),
        job_id=JobId(row[1]),
        job_type=row[2],
        queue=row[3],
        status=JobStatus(row[4]),
        priority=row[5],
        parameters=decode(row[6]),
        progress=decode(row[7]),
        results=decode(row[8]),
        error=decode(row[9]),
        attempt=row[10],
        max_attempts=row[11],
        crashes=row[12],
        max_crashes=row[13],
        timeout=row[14],
        checkpoint=decode(row[15]),
        created_at_ts=row[16],
        run_at_ts=row[17],
        started_at_ts=row[18],
        finished_at_ts=row[19],
        worker_id=row[20],
        lease_expires_at_ts=row[21],
        parent_id=row[22],
        depends_on=tuple(decode(row[23])),
        idempotency_key=row[24],
        webhook=decode(row[25]),
        metadata=decode(row[26]),
    )
