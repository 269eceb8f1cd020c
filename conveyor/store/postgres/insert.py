"""Enqueue on PostgreSQL: the statements that write new jobs, shared by the pool, the caller's own
connection (`JobInsert.connection`) and its async twin.

Plain jobs take the fast paths (one INSERT, or COPY for many). Jobs of a batch or a dependency
graph go through `insert_graph`, a sans-IO sequence of statements (a generator: it yields each
statement and is sent back its rows), so the sync and the async drivers below run the same logic.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import psycopg
import psycopg.errors

from ...errors import InvalidJobOptions, StoreError
from ...job import ClaimedJob, Job, NewJob
from ...status import JobStatus
from ..params import JobInsert, JobRun, json_or_none
from ..rows import job_from_row as shared_job_from_row
from .database import Q, Step

_dumps = json.dumps
_loads = json.loads
COPY_FROM = 50  # bulk inserts this big stream through COPY (two round trips, but the fastest per row)


def _json_or_empty(value: Any, empty: str) -> str:
    return _dumps(value) if value else empty


# -- rows → jobs -----------------------------------------------------------------------------------


def job_from_row(row: Sequence[Any]) -> Job:
    """A `job_get.sql` row; psycopg has already decoded the json columns."""
    return shared_job_from_row(row)


def claimed_from_row(row: Sequence[Any], worker_id: Any) -> ClaimedJob:
    """A `job_claim*.sql` row. The json columns come as text and are decoded here: psycopg's json
    loader costs a Python call per value on top of json.loads, and most are empty ({}, [], NULL)."""
    return ClaimedJob(
        seq=row[0], job_id=row[1], job_type=row[2], queue=row[3], priority=row[4],
        parameters=_loads(row[5]) if row[5] != "{}" else {}, attempt=row[6], max_attempts=row[7],
        timeout=row[8], checkpoint=None if row[9] is None else _loads(row[9]),
        metadata=_loads(row[10]) if row[10] != "{}" else {}, worker_id=worker_id,
        depends_on=tuple(_loads(row[11])) if row[11] != "[]" else (),
    )


# -- plain jobs ------------------------------------------------------------------------------------


def insert_step(jobs: Sequence[NewJob]) -> Step:
    """The INSERT for these jobs: `job_insert_one.sql` for one, else `job_insert.sql`, whose
    arrays (one element per job) make any number of jobs one statement."""
    if len(jobs) == 1:
        return Q["job_insert_one"], {k: v[0] for k, v in _insert_params(jobs).items()}
    return Q["job_insert"], _insert_params(jobs)



def with_notify(insert: Step, channel: str, messages: list[str]) -> Step:
    """An INSERT and the NOTIFY of its wake-ups as one statement (the INSERT a data-modifying
    CTE): one round trip in autocommit, 0.5 ms sooner than BEGIN, INSERT, NOTIFY, COMMIT even
    pipelined. Only for inserts that write every row (no idempotency keys)."""
    query, params = insert
    if not isinstance(params, dict):
        raise TypeError("with_notify needs named parameters")
    wrapped = b"WITH inserted AS (\n" + query + b"\n)\n" + Q["notify"]
    return wrapped, {**params, "channel": channel, "messages": messages}


def _insert_params(jobs: Sequence[NewJob]) -> dict[str, list[Any]]:
    return {
        "job_id": [j.job_id for j in jobs],
        "job_type": [j.job_type for j in jobs],
        "queue": [j.queue for j in jobs],
        "status": [j.status.value for j in jobs],
        "priority": [j.priority for j in jobs],
        "parameters": [_dumps(j.parameters) for j in jobs],
        "max_attempts": [j.max_attempts for j in jobs],
        "max_crashes": [j.max_crashes for j in jobs],
        "timeout": [j.timeout for j in jobs],
        "created_at": [j.created_at for j in jobs],
        "run_at": [j.run_at for j in jobs],
        "parent_id": [j.parent_id for j in jobs],
        "depends_on": [_dumps(list(j.depends_on)) for j in jobs],
        "idempotency_key": [j.idempotency_key for j in jobs],
        "webhook": [json_or_none(j.webhook) for j in jobs],
        "metadata": [_dumps(j.metadata) for j in jobs],
    }


def copy_row(j: NewJob) -> tuple[Any, ...]:
    """A `job_insert_copy.sql` row (the columns of `job_insert.sql`, in the same order)."""
    return (
        j.job_id, j.job_type, j.queue, j.status.value, j.priority, _dumps(j.parameters), j.max_attempts,
        j.max_crashes, j.timeout, j.created_at, j.run_at, j.parent_id, _json_or_empty(list(j.depends_on), "[]"),
        j.idempotency_key, json_or_none(j.webhook), _json_or_empty(j.metadata, "{}"),
    )


RUN_CHUNK = 1_000  # rows per statement when a run is sent in chunks (`run_chunks`)


class NeedsCopy(Exception):
    """A run's parameters hold escapes that PostgreSQL's JSON functions refuse: write it with COPY."""


def _run_rows(run: JobRun, start: int, stop: int) -> str:
    rows = _dumps(list(zip(run.job_ids[start:stop], run.parameters[start:stop], strict=True)))
    if "\\u0000" in rows or "\\ud" in rows:
        raise NeedsCopy
    return rows


def _run_step(run: JobRun, rows: str) -> Step:
    t = run.template
    return Q["job_insert_run"], {
        "job_type": t.job_type, "queue": t.queue, "status": t.status.value, "priority": t.priority,
        "max_attempts": t.max_attempts, "max_crashes": t.max_crashes, "timeout": t.timeout,
        "created_at": t.created_at, "run_at": t.run_at, "parent_id": t.parent_id,
        "webhook": json_or_none(t.webhook), "metadata": _json_or_empty(t.metadata, "{}"),
        "on_dependency_failure": t.on_dependency_failure, "rows": rows,
    }


def run_chunks(runs: Sequence[JobRun]) -> Iterator[Step]:
    """`job_insert_run.sql` statements for `runs`, `RUN_CHUNK` rows each, each encoded only when
    the one before is on its way (a generator): sent in pipeline mode, the server inserts one chunk
    while the next is encoded. Raises NeedsCopy for a run that must go through `insert_runs`."""
    for run in runs:
        for start in range(0, len(run.job_ids), RUN_CHUNK):
            yield _run_step(run, _run_rows(run, start, start + RUN_CHUNK))


def insert_runs(runs: Sequence[JobRun]) -> Steps:
    """Write runs of alike jobs (`JobRun`), each with one `job_insert_run.sql`. The server's JSON
    functions unescape strings, and refuse \\u0000 and lone surrogates that the json column keeps
    verbatim, so a run whose parameters hold any \\u0000 or \\ud… escape goes through COPY instead."""
    for run in runs:
        try:
            rows = _run_rows(run, 0, len(run.job_ids))
        except NeedsCopy:
            yield Copy(Q["job_insert_copy"], [copy_row(j) for j in run.new_jobs()])
            continue
        yield _run_step(run, rows)
    return run_stand_ins(runs)


def run_stand_ins(runs: Sequence[JobRun]) -> list[tuple[Job, bool]]:
    """What the wake-ups need: one stand-in job per run (its status, queue and due time)."""
    return [(Job.run_of(run.template, run.job_ids[:1], run.parameters[:1])[0], True) for run in runs if run.job_ids]


def keys_of(jobs: Sequence[NewJob]) -> list[str]:
    return [j.idempotency_key for j in jobs if j.idempotency_key is not None]


def merge_inserted(
    jobs: Sequence[NewJob], inserted: Iterable[Sequence[Any]], live: Iterable[Sequence[Any]]
) -> list[tuple[Job, bool]]:
    """Each job as created, or (idempotency key already held) the live job holding the key."""
    created = {row[0] for row in inserted}
    holders = {row[24]: row for row in live}
    out = []
    for new in jobs:
        if new.job_id in created:
            out.append((Job.from_new(new), True))
            continue
        row = holders.get(new.idempotency_key)
        if row is None:  # the holder finished between our INSERT and SELECT: rare, transient
            raise StoreError(f"idempotency key {new.idempotency_key!r} changed hands during enqueue; try again")
        out.append((job_from_row(row), False))
    return out


def wake_messages(results: Iterable[tuple[Job, bool]]) -> list[str]:
    """The wake-ups new jobs call for (as `Conveyor.announce` sends after a pool insert)."""
    messages: dict[str, None] = {}
    earliest: float | None = None
    for job, created in results:
        if not created:
            continue
        if job.status is JobStatus.PENDING:
            messages[f"j:{job.queue}"] = None
        elif job.status is JobStatus.SCHEDULED:
            earliest = job.run_at_ts if earliest is None else min(earliest, job.run_at_ts)
    if earliest is not None:
        messages[f"s:{earliest}"] = None
    return list(messages)


def caller_error(exc: psycopg.Error) -> StoreError:
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return StoreError(
            "connection= cannot see Conveyor's tables: connect to the store's database with the "
            "store URL's search_path (and run `conveyor migrate` first)"
        )
    return StoreError(f"enqueue on the given connection failed: {str(exc).strip().splitlines()[0]}")


# -- batches and dependency graphs -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Copy:
    """A `COPY … FROM STDIN` step of `insert_graph` (any other step is a `Step`: one statement)."""

    query: bytes
    rows: list[tuple[Any, ...]]


Steps: TypeAlias = Generator[Step | Copy, list[tuple[Any, ...]], list[tuple[Job, bool]]]


def copy_then(rows: list[tuple[Any, ...]], jobs: Sequence[NewJob]) -> Steps:
    """Plain jobs without idempotency keys, streamed through COPY (`job_insert_copy.sql`)."""
    yield Copy(Q["job_insert_copy"], rows)
    return [(Job.from_new(j), True) for j in jobs]


def with_keys(jobs: Sequence[NewJob], insert: Step, keys: list[str]) -> Steps:
    """Plain jobs, some with idempotency keys: those whose key a live job holds return that job."""
    inserted = yield insert
    live = yield Q["job_get_by_idempotency_key"], {"keys": keys}
    return merge_inserted(jobs, inserted, live)


def is_graph(p: JobInsert) -> bool:
    """Whether these jobs need `insert_graph`: a batch, dependencies, or held batch children."""
    return bool(p.batches) or any(j.depends_on or j.held for j in p.jobs)


def insert_graph(p: JobInsert) -> Steps:
    """Write the jobs (and their batches), record their dependency edges, refuse unknown
    dependencies, and settle the new waiting jobs whose dependencies are already done (as
    SQLiteStore._insert_dependencies). Run it inside one transaction (see `run_steps`)."""
    jobs = p.jobs
    if p.batches:
        yield Q["batch_insert"], {
            "batch_id": [b.batch_id for b in p.batches],
            "total": [b.total for b in p.batches],
            "max_concurrency": [b.max_concurrency for b in p.batches],
            "fail_on_child_failure": [b.fail_on_child_failure for b in p.batches],
        }
    keys = keys_of(jobs)
    if not keys and len(jobs) >= COPY_FROM:
        yield Copy(Q["job_insert_graph_copy"], [_graph_copy_row(j) for j in jobs])
        out = [(Job.from_new(j), True) for j in jobs]
    else:
        params: dict[str, list[Any]] = {
            **_insert_params(jobs),
            "held": [j.held for j in jobs],
            "on_dependency_failure": [j.on_dependency_failure for j in jobs],
        }
        inserted = yield Q["job_insert_graph"], params
        live = (yield Q["job_get_by_idempotency_key"], {"keys": keys}) if keys else []
        out = merge_inserted(jobs, inserted, live)
    created = {job.job_id for job, was_created in out if was_created}
    waiting = [j for j in jobs if j.depends_on and j.job_id in created]
    if not waiting:
        return out
    edges = [(dep, j.job_id) for j in waiting for dep in j.depends_on]
    yield Q["job_dep_insert"], {"depends_on_id": [d for d, _ in edges], "job_id": [j for _, j in edges]}
    missing = yield Q["job_deps_mark"], {"depends_on": list(dict.fromkeys(d for d, _ in edges))}
    if missing:
        raise InvalidJobOptions(f"depends_on: no job {missing[0][0]!r}", field="depends_on")
    settle = {"job_ids": [j.job_id for j in waiting], "now": max(j.created_at for j in jobs)}
    yield Q["job_deps_cancel_new"], settle
    yield Q["job_deps_release_new"], settle
    rows = yield Q["job_get_many"], {"job_ids": settle["job_ids"]}
    settled = {row[1]: job_from_row(row) for row in rows}
    return [(settled.get(job.job_id, job), was_created) for job, was_created in out]


def _graph_copy_row(j: NewJob) -> tuple[Any, ...]:
    """A `job_insert_graph_copy.sql` row."""
    return (*copy_row(j), j.held, j.on_dependency_failure)


def run_steps(cur: psycopg.Cursor[Any], steps: Steps) -> list[tuple[Job, bool]]:
    """Drive `steps` on a cursor (the caller holds the transaction)."""
    try:
        step = next(steps)
        while True:
            rows: list[tuple[Any, ...]] = []
            if isinstance(step, Copy):
                with cur.copy(step.query) as copy:
                    for row in step.rows:
                        copy.write_row(row)
            else:
                cur.execute(*step)
                rows = cur.fetchall() if cur.description else []
            step = steps.send(rows)
    except StopIteration as stop:
        result: list[tuple[Job, bool]] = stop.value
        return result


async def run_steps_async(cur: psycopg.AsyncCursor[Any], steps: Steps) -> list[tuple[Job, bool]]:
    """`run_steps` on an async cursor."""
    try:
        step = next(steps)
        while True:
            rows: list[tuple[Any, ...]] = []
            if isinstance(step, Copy):
                async with cur.copy(step.query) as copy:
                    for row in step.rows:
                        await copy.write_row(row)
            else:
                await cur.execute(*step)
                rows = await cur.fetchall() if cur.description else []
            step = steps.send(rows)
    except StopIteration as stop:
        result: list[tuple[Job, bool]] = stop.value
        return result
