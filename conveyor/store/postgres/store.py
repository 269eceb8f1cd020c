"""The shared store: PostgreSQL through psycopg 3 and a connection pool, for many worker machines.

Same statuses, fencing and claim order as the SQLite store; what PostgreSQL adds: claims with
`FOR UPDATE SKIP LOCKED` in batches, many fenced transitions in one statement, bulk inserts in
one round trip, LISTEN/NOTIFY wake-ups (wakeup.py), and enqueue inside the caller's own
transaction (`JobInsert.connection`). Times are epoch seconds in double precision columns, so
every time reads back exactly as the Python API wrote it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.rows import tuple_row

from ...errors import StoreError
from ...job import ClaimedJob, Job, JobId, LogEntry, NewJob
from ...outcome import Transition
from ...status import JobStatus
from ...webhooks.delivery import DeliveryState, WebhookDelivery
from ..params import (
    ApiKeyFind,
    ApiKeyInsert,
    ApiKeyList,
    ApiKeyRecord,
    ApiKeyRevoke,
    ApiKeyTouch,
    AuditInsert,
    AuditList,
    AuditPage,
    AuditRecord,
    ClaimResult,
    JobCancel,
    JobCheckpoint,
    JobClaim,
    JobDelete,
    JobFinish,
    JobGet,
    JobHeartbeat,
    JobInsert,
    JobList,
    JobPage,
    JobProgress,
    JobPurge,
    JobRescue,
    JobRetry,
    JobRetryFailed,
    LogInsert,
    LogList,
    LogTail,
    MetricsRead,
    MetricsSnapshot,
    RescueResult,
    StatsRead,
    WebhookClaim,
    WebhookList,
    WebhookRecord,
    WorkerBeat,
    parse_cursor,
)
from ..queries import load_migrations
from ..stats import summarize
from .database import Database, Params, Q, Step, as_literal, parse_postgres_url
from .unported import UnportedOperations
from .wakeup import PgWakeup

_PACKAGE = __package__ or "conveyor.store.postgres"
MIGRATIONS = load_migrations(_PACKAGE)
_dumps = json.dumps
COPY_FROM = 50  # bulk inserts this big stream through COPY (two round trips, but the fastest per row)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _job_from_row(row: Sequence[Any]) -> Job:
    """A `job_get.sql` row; psycopg has already decoded the json columns."""
    return Job(
        cursor=str(row[0]),
        job_id=JobId(row[1]),
        job_type=row[2],
        queue=row[3],
        status=JobStatus(row[4]),
        priority=row[5],
        parameters=row[6],
        progress=row[7],
        results=row[8],
        error=row[9],
        attempt=row[10],
        max_attempts=row[11],
        crashes=row[12],
        max_crashes=row[13],
        timeout=row[14],
        checkpoint=row[15],
        created_at_ts=row[16],
        run_at_ts=row[17],
        started_at_ts=row[18],
        finished_at_ts=row[19],
        worker_id=row[20],
        lease_expires_at_ts=row[21],
        parent_id=row[22],
        depends_on=tuple(row[23]),
        idempotency_key=row[24],
        webhook=row[25],
        metadata=row[26],
    )


def _claimed_from_row(row: Sequence[Any], worker_id: Any) -> ClaimedJob:
    return ClaimedJob(
        seq=row[0], job_id=row[1], job_type=row[2], queue=row[3], priority=row[4],
        parameters=row[5], attempt=row[6], max_attempts=row[7], timeout=row[8],
        checkpoint=row[9], metadata=row[10], worker_id=worker_id,
    )


# -- enqueue: shared by the pool path and the caller's-connection paths (sync and async) ---------


def _refuse_unported(p: JobInsert) -> None:
    """Features whose SQLite migration (0004 workflows) is not ported yet: fail
    the enqueue now rather than store a job that would silently never call back or never run."""
    missing = None
    if p.batches or any(j.depends_on or j.held for j in p.jobs):
        missing = "dependencies and batches (workflows)"
    if missing:
        raise StoreError(f"{missing} are not available on the PostgreSQL store yet (its migration is not ported)")


def _insert_step(jobs: Sequence[NewJob]) -> Step:
    """The INSERT for these jobs: `job_insert_one.sql` for one, else `job_insert.sql`, whose
    arrays (one element per job) make any number of jobs one statement."""
    if len(jobs) == 1:
        return Q["job_insert_one"], {k: v[0] for k, v in _insert_params(jobs).items()}
    return Q["job_insert"], _insert_params(jobs)


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
        "webhook": [_json_or_none(j.webhook) for j in jobs],
        "metadata": [_dumps(j.metadata) for j in jobs],
    }


def _json_or_empty(value: Any, empty: str) -> str:
    return _dumps(value) if value else empty


def _copy_row(j: NewJob) -> tuple[Any, ...]:
    """A `job_insert_copy.sql` row (the columns of `job_insert.sql`, in the same order)."""
    return (
        j.job_id, j.job_type, j.queue, j.status.value, j.priority, _dumps(j.parameters), j.max_attempts,
        j.max_crashes, j.timeout, j.created_at, j.run_at, j.parent_id, _json_or_empty(list(j.depends_on), "[]"),
        j.idempotency_key, _json_or_none(j.webhook), _json_or_empty(j.metadata, "{}"),
    )


def _keys(jobs: Sequence[NewJob]) -> list[str]:
    return [j.idempotency_key for j in jobs if j.idempotency_key is not None]


def _merge_inserted(
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
        out.append((_job_from_row(row), False))
    return out


def wake_messages(results: Iterable[tuple[Job, bool]]) -> list[str]:
    """The wake-ups new jobs call for (as `Conveyor._wake` sends after a pool insert)."""
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


def _caller_error(exc: psycopg.Error) -> StoreError:
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return StoreError(
            "connection= cannot see Conveyor's tables: connect to the store's database with the "
            "store URL's search_path (and run `conveyor migrate` first)"
        )
    return StoreError(f"enqueue on the given connection failed: {str(exc).strip().splitlines()[0]}")


# -- finish: many fenced transitions in one statement --------------------------------------------


def _finish_params(transitions: Sequence[Transition], now: float) -> dict[str, Any]:
    params: dict[str, Any] = {
        k: [] for k in ("job_id", "attempt", "worker_id", "status", "results", "error", "run_at",
                        "finished_at", "release")
    }
    for t in transitions:
        terminal = t.status.is_terminal
        params["job_id"].append(t.job.job_id)
        params["attempt"].append(t.job.attempt)
        params["worker_id"].append(t.job.worker_id)
        params["status"].append(t.status.value)
        params["results"].append(_json_or_none(t.results) if terminal else None)
        params["error"].append(_json_or_none(t.error))
        params["run_at"].append(t.run_at)
        params["finished_at"].append(now if terminal else None)
        params["release"].append(1 if t.release else 0)
    params["now"] = now  # stamps the webhook callbacks
    return params


def _unique_tokens(transitions: Sequence[Transition]) -> list[Transition]:
    """One transition per fencing token (the first), as applying them one by one would leave it:
    a token's second transition would find the job no longer running."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for t in transitions:
        token = (t.job.job_id, t.job.attempt, t.job.worker_id)
        if token not in seen:
            seen.add(token)
            out.append(t)
    return out


class PostgresStore(UnportedOperations):
    dialect = "postgresql"

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.create = create  # PostgreSQL databases are never created here; migrate() makes the schema
        self.target = parse_postgres_url(url)
        self._db = Database(self.target)
        self._relaxed = Database(self.target, relaxed=True, probe=False)  # see Database: relaxed
        self.wakeup = PgWakeup(self._db, self.target, Q["notify"], Q["listen"], Q["ping"])

    def close(self) -> None:
        self.wakeup.close()
        self._relaxed.close()
        self._db.close()

    # -- schema --------------------------------------------------------------------------------

    def schema_version(self) -> int:
        tables = {row[0] for row in self._db.rows(Q["table_names"])}
        if "conveyor_schema_version" not in tables:
            return 0
        return int(self._db.rows(Q["schema_version_read"])[0][0])

    def migrate(self) -> None:
        """Create the schema (if the URL names one) and apply pending migrations, all in one
        transaction under an advisory lock: processes starting together apply each once."""
        schema = self.target.schema

        def apply(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute(Q["migrate_lock"], {"schema": schema or ""})
                if schema:
                    create = as_literal(Q["schema_create"].decode()).format(schema=sql.Identifier(schema))
                    conn.execute(create)
                conn.execute(Q["schema_version_create"])
                row = conn.execute(Q["schema_version_read"]).fetchone()
                current = int(row[0]) if row else 0
                for migration in MIGRATIONS:
                    if migration.version > current:
                        conn.execute(migration.sql.encode())
                        version = {"version": migration.version, "applied_at": time.time()}
                        conn.execute(Q["schema_version_insert"], version)

        self._db.run(apply, idempotent=True)

    def latest_version(self) -> int:
        return MIGRATIONS[-1].version

    # -- enqueue -------------------------------------------------------------------------------

    def job_insert(self, p: JobInsert) -> list[tuple[Job, bool]]:
        if not p.jobs:
            return []
        _refuse_unported(p)
        if p.connection is not None:
            return self._insert_on(p.connection, p.jobs)
        keys = _keys(p.jobs)
        if not keys and len(p.jobs) >= COPY_FROM:
            self._db.copy_rows(Q["job_insert_copy"], [_copy_row(j) for j in p.jobs])
            return [(Job.from_new(j), True) for j in p.jobs]
        insert = _insert_step(p.jobs)
        if not keys:
            self._db.write(*insert)
            return [(Job.from_new(j), True) for j in p.jobs]
        inserted, live = self._db.pipelined([insert, (Q["job_get_by_idempotency_key"], {"keys": keys})])
        return _merge_inserted(p.jobs, inserted.fetchall(), live.fetchall())

    def _insert_on(self, conn: Any, jobs: Sequence[NewJob]) -> list[tuple[Job, bool]]:
        """Write in the caller's transaction; the NOTIFY rides along, delivered only at COMMIT."""
        if not isinstance(conn, psycopg.Connection):
            raise StoreError(
                "connection= must be a psycopg Connection (an AsyncConnection goes to enqueue_async; with "
                "SQLAlchemy pass conn.connection.driver_connection, with Django django.db.connection.connection)"
            )
        insert, keys = _insert_step(jobs), _keys(jobs)
        try:
            cur = conn.cursor(row_factory=tuple_row)  # whatever row factory the caller likes
            inserted = cur.execute(*insert).fetchall()
            live = cur.execute(Q["job_get_by_idempotency_key"], {"keys": keys}).fetchall() if keys else []
            results = _merge_inserted(jobs, inserted, live)
            messages = wake_messages(results)
            if messages:
                cur.execute(Q["notify"], {"channel": self.target.channel, "messages": messages})
        except psycopg.Error as exc:
            raise _caller_error(exc) from exc
        return results

    async def job_insert_async(self, p: JobInsert) -> list[tuple[Job, bool]]:
        """`job_insert` in the caller's `psycopg.AsyncConnection` transaction (`p.connection`)."""
        conn = p.connection
        if not isinstance(conn, psycopg.AsyncConnection):
            raise StoreError("job_insert_async needs connection= to be a psycopg AsyncConnection")
        if not p.jobs:
            return []
        _refuse_unported(p)
        insert, keys = _insert_step(p.jobs), _keys(p.jobs)
        try:
            cur = conn.cursor(row_factory=tuple_row)
            inserted = await (await cur.execute(*insert)).fetchall()
            live = []
            if keys:
                live = await (await cur.execute(Q["job_get_by_idempotency_key"], {"keys": keys})).fetchall()
            results = _merge_inserted(p.jobs, inserted, live)
            messages = wake_messages(results)
            if messages:
                await cur.execute(Q["notify"], {"channel": self.target.channel, "messages": messages})
        except psycopg.Error as exc:
            raise _caller_error(exc) from exc
        return results

    # -- reads ---------------------------------------------------------------------------------

    def job_get(self, p: JobGet) -> Job | None:
        rows = self._db.rows(Q["job_get"], {"job_id": p.job_id})
        return _job_from_row(rows[0]) if rows else None

    def job_list(self, p: JobList) -> JobPage:
        cursor = parse_cursor(p.cursor)
        rows = self._db.rows(
            Q["job_list"],
            {
                "status": p.status.value if p.status else None,
                "job_type": p.job_type,
                "queue": p.queue,
                "parent_id": p.parent_id,
                "cursor": cursor,
                "limit": p.limit + 1,
            },
        )
        jobs = [_job_from_row(r) for r in rows[: p.limit]]
        next_cursor = jobs[-1].cursor if len(rows) > p.limit and jobs else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def log_list(self, p: LogList) -> list[LogEntry]:
        rows = self._db.rows(Q["log_list"], {"job_id": p.job_id, "limit": p.limit})
        return [LogEntry(ts, level, msg) for ts, level, msg in rows]

    # -- the worker's hot path -----------------------------------------------------------------

    def job_claim(self, p: JobClaim) -> ClaimResult:
        params: dict[str, Any] = {
            "worker_id": p.worker_id, "now": p.now, "lease_expires_at": p.now + p.lease_seconds, "limit": p.limit,
        }
        claim: Step = (Q["job_claim_any"], params)
        if p.queues is not None:
            claim = (Q["job_claim"], {**params, "queues": list(dict.fromkeys(p.queues))})
        next_scheduled = None
        if p.promote_due:
            _, nxt, claimed = self._relaxed.pipelined(
                [(Q["job_promote_due"], {"now": p.now}), (Q["job_next_scheduled"], None), claim]
            )
            row = nxt.fetchone()
            next_scheduled = row[0] if row else None
            rows = claimed.fetchall()
        else:
            rows = self._relaxed.returning(*claim)
        rows.sort(key=lambda r: (-r[4], r[0]))
        return ClaimResult(jobs=[_claimed_from_row(r, p.worker_id) for r in rows], next_scheduled_at=next_scheduled)

    def job_finish(self, p: JobFinish) -> list[JobId]:
        transitions = _unique_tokens(p.transitions)
        if not transitions:
            return []
        applied = {row[0] for row in self._db.returning(Q["job_finish"], _finish_params(transitions, p.now))}
        out = []
        for t in transitions:  # at most one transition per job can have matched its fencing token
            if t.job.job_id in applied:
                applied.discard(t.job.job_id)
                out.append(t.job.job_id)
        return out

    def job_heartbeat(self, p: JobHeartbeat) -> list[JobId]:
        params = {"worker_id": p.worker_id, "lease_expires_at": p.now + p.lease_seconds}
        owned = {row[0] for row in self._relaxed.returning(Q["job_heartbeat"], params, idempotent=True)}
        return [job_id for job_id in p.job_ids if job_id not in owned]

    def job_rescue_expired(self, p: JobRescue) -> RescueResult:
        rows = self._relaxed.returning(Q["job_rescue_expired"], {"now": p.now}, idempotent=True)
        return RescueResult(
            requeued=[JobId(r[0]) for r in rows if r[1] == "pending"],
            quarantined=[JobId(r[0]) for r in rows if r[1] == "failed"],
        )

    def job_next_lease_expiry(self) -> float | None:
        value = self._db.rows(Q["job_next_lease_expiry"])[0][0]
        return None if value is None else float(value)

    def job_progress(self, p: JobProgress) -> bool:
        params = {"progress": _dumps(p.progress), "job_id": p.job_id, "attempt": p.attempt, "worker_id": p.worker_id,
                  "now": time.time() if p.now is None else p.now}
        return int(self._relaxed.returning(Q["job_progress"], params, idempotent=True)[0][0]) == 1

    def job_checkpoint(self, p: JobCheckpoint) -> bool:
        params = {"checkpoint": _dumps(p.data), "job_id": p.job_id, "attempt": p.attempt, "worker_id": p.worker_id}
        return self._db.write(Q["job_checkpoint"], params, idempotent=True) == 1

    def log_insert(self, p: LogInsert) -> None:
        if not p.entries:
            return
        params = {
            "job_id": p.job_id,
            "timestamp": [e.timestamp for e in p.entries],
            "level": [e.level for e in p.entries],
            "message": [e.message for e in p.entries],
        }
        self._db.write(Q["log_insert"], params)

    def worker_beat(self, p: WorkerBeat) -> None:
        params = {"worker_id": p.worker_id, "info": _dumps(p.info), "now": p.now,
                  "stopped_at": p.now if p.stopping else None}
        self._relaxed.write(Q["worker_beat"], params, idempotent=True)

    # -- admin ---------------------------------------------------------------------------------

    def _update_then_get(self, query: bytes, params: Params, job_id: str) -> Job | None:
        _, got = self._db.pipelined([(query, params), (Q["job_get"], {"job_id": job_id})], idempotent=True)
        row = got.fetchone()
        return _job_from_row(row) if row else None

    def job_cancel(self, p: JobCancel) -> Job | None:
        return self._update_then_get(Q["job_cancel"], {"job_id": p.job_id, "now": p.now, "reason": p.reason}, p.job_id)

    def job_retry(self, p: JobRetry) -> Job | None:
        return self._update_then_get(Q["job_retry"], {"job_id": p.job_id, "now": p.now}, p.job_id)

    def job_retry_failed(self, p: JobRetryFailed) -> int:
        return self._db.write(Q["job_retry_failed"], {"now": p.now, "job_type": p.job_type, "queue": p.queue})

    def job_delete(self, p: JobDelete) -> bool:
        params = {"job_id": p.job_id}
        deleted, _, _ = self._db.pipelined(
            [(Q["job_delete"], params), (Q["log_delete_for_job"], params), (Q["webhook_delete_for_job"], params)]
        )
        return deleted.rowcount == 1

    def job_purge(self, p: JobPurge) -> int:
        params = {"before": p.finished_before, "statuses": [s.value for s in p.statuses]}
        _, _, jobs = self._db.pipelined(
            [(Q["job_purge_logs"], params), (Q["webhook_purge"], params), (Q["job_purge"], params)]
        )
        return jobs.rowcount

    # -- webhook outbox (rows are written above, in the state changes' statements) -------------

    def webhook_claim(self, p: WebhookClaim) -> list[WebhookDelivery]:
        params = {"now": p.now, "limit": p.limit, "progress_interval": p.progress_interval, "owner": p.owner,
                  "lease_expires_at": p.now + p.lease_seconds}
        rows = self._db.returning(Q["webhook_claim"], params)
        return sorted((WebhookDelivery.from_row(r) for r in rows), key=lambda d: (d.next_attempt_at, d.seq))

    def webhook_record(self, p: WebhookRecord) -> bool:
        finished = None if p.state is DeliveryState.PENDING else p.now
        params = {"state": p.state.value, "next_attempt_at": p.next_attempt_at, "last_status": p.last_status,
                  "last_error": p.last_error, "finished_at": finished, "delivery_id": p.delivery_id,
                  "owner": p.owner, "attempt": p.attempt}
        return self._db.write(Q["webhook_record"], params) == 1

    def webhook_list(self, p: WebhookList) -> list[WebhookDelivery]:
        return [WebhookDelivery.from_row(r) for r in self._db.rows(Q["webhook_list"], {"job_id": p.job_id})]

    def webhook_next_due(self) -> float | None:
        value = self._db.rows(Q["webhook_next_due"])[0][0]
        return None if value is None else float(value)

    # -- API keys and the audit log ------------------------------------------------------------

    def api_key_insert(self, p: ApiKeyInsert) -> ApiKeyRecord | None:
        params = {"key_id": p.key_id, "name": p.name, "scope": p.scope, "key_hash": p.key_hash,
                  "created_at": p.created_at}
        if self._db.write(Q["api_key_insert"], params) != 1:
            return None  # an active key already has this name
        return ApiKeyRecord(p.key_id, p.name, p.scope, p.key_hash, p.created_at)

    def api_key_find(self, p: ApiKeyFind) -> ApiKeyRecord | None:
        rows = self._db.rows(Q["api_key_find"], {"key_hash": p.key_hash})
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_key_list(self, p: ApiKeyList) -> list[ApiKeyRecord]:
        return [ApiKeyRecord(*row) for row in self._db.rows(Q["api_key_list"], {"include_revoked": p.include_revoked})]

    def api_key_revoke(self, p: ApiKeyRevoke) -> list[ApiKeyRecord]:
        rows = self._db.returning(Q["api_key_revoke"], {"name_or_id": p.name_or_id, "now": p.now}, idempotent=True)
        return [ApiKeyRecord(*row) for row in rows]

    def api_key_touch(self, p: ApiKeyTouch) -> None:
        self._relaxed.write(Q["api_key_touch"], {"key_id": p.key_id, "now": p.now}, idempotent=True)

    def audit_insert(self, p: AuditInsert) -> int:
        params = {"at": p.at, "actor": p.actor, "action": p.action, "job_ids": _dumps(list(p.job_ids)),
                  "details": _dumps(p.details)}
        return int(self._db.returning(Q["audit_insert"], params)[0][0])

    def audit_list(self, p: AuditList) -> AuditPage:
        cursor = int(p.cursor) if p.cursor and p.cursor.isascii() and p.cursor.isdigit() else None
        params = {"cursor": cursor, "actor": p.actor, "action": p.action, "job_id": p.job_id, "limit": p.limit + 1}
        rows = self._db.rows(Q["audit_list"], params)
        entries = [
            AuditRecord(seq=r[0], at=r[1], actor=r[2], action=r[3], job_ids=tuple(r[4]), details=r[5])
            for r in rows[: p.limit]
        ]
        next_cursor = str(entries[-1].seq) if len(rows) > p.limit and entries else None
        return AuditPage(entries=entries, next_cursor=next_cursor)

    def log_tail(self, p: LogTail) -> list[tuple[int, LogEntry]]:
        rows = self._db.rows(Q["log_tail"], {"job_id": p.job_id, "after": p.after, "limit": p.limit})
        return [(seq, LogEntry(ts, level, msg)) for seq, ts, level, msg in rows]

    def metrics_read(self, p: MetricsRead) -> MetricsSnapshot:
        after = p.enqueued_after
        cursor_given = after is not None and after.isascii() and after.isdigit()
        window = p.finished_since is not None and p.finished_until is not None
        steps: list[Step] = [(Q["stats_counts"], None), (Q["metrics_oldest_pending"], None)]
        if cursor_given and after:
            steps.append((Q["metrics_enqueued"], {"after": int(after)}))
        else:
            steps.append((Q["metrics_last_id"], None))
        if window:
            steps.append((Q["metrics_finished"], {"since": p.finished_since, "until": p.finished_until}))
        results = self._db.pipelined(steps, idempotent=True)
        counts, oldest, enqueued_or_last = (c.fetchall() for c in results[:3])
        enqueued: list[tuple[str, str, int]] = []
        if cursor_given and after:
            enqueued = [(queue, job_type, n) for queue, job_type, n, _ in enqueued_or_last]
            cursor = str(max([int(after), *(row[3] for row in enqueued_or_last)]))
        else:
            cursor = str(enqueued_or_last[0][0])
        finished = [(q, t, s, d) for q, t, s, d in results[3].fetchall()] if window else []
        return MetricsSnapshot(
            counts=[(q, t, s, n) for q, t, s, n in counts],
            oldest_pending=[(queue, float(run_at)) for queue, run_at in oldest],
            enqueued=enqueued, enqueued_cursor=cursor, finished=finished,
        )

    def stats_read(self, p: StatsRead) -> dict[str, Any]:
        since = {"since": p.now - p.window_seconds}
        counts, durations, finished, oldest = self._db.pipelined(
            [(Q["stats_counts"], None), (Q["stats_durations"], since), (Q["stats_finished_window"], since),
             (Q["stats_oldest_pending"], None)],
            idempotent=True,
        )
        oldest_row = oldest.fetchone()
        return summarize(
            [tuple(r) for r in counts.fetchall()],
            [r[0] for r in durations.fetchall()],
            {status: n for status, n in finished.fetchall()},
            oldest_row[0] if oldest_row else None,
            p,
        )


__all__ = ["PostgresStore", "wake_messages"]
