"""The shared store: PostgreSQL through psycopg 3 and a connection pool, for many worker machines.

Same statuses, fencing and claim order as the SQLite store; what PostgreSQL adds: claims with
`FOR UPDATE SKIP LOCKED` in batches, many fenced transitions in one statement, bulk inserts in
one round trip, LISTEN/NOTIFY wake-ups (wakeup.py), and enqueue inside the caller's own
transaction (`JobInsert.connection`). Times are epoch seconds in double precision columns, so
every time reads back exactly as the Python API wrote it. The workflow rules (dependencies,
batches) are PL/pgSQL triggers (migrations/0004), as they are SQLite triggers there; enqueue of
graphs is insert.py, the limited claim path limited.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.rows import tuple_row

from ...errors import StoreError
from ...job import ClaimedJob, Job, JobId, LogEntry, NewJob, WorkerId
from ...webhooks.delivery import DeliveryState, WebhookDelivery
from ..limits import Limit
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
    FinishBatch,
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
    JobRun,
    JobRunsInsert,
    LimitDelete,
    LimitPause,
    LimitSet,
    LogInsert,
    LogList,
    LogTail,
    MetricsRead,
    MetricsSnapshot,
    PeriodicFire,
    PeriodicRow,
    PeriodicUpsert,
    RescueResult,
    StatsRead,
    WebhookClaim,
    WebhookList,
    WebhookRecord,
    WorkerBeat,
    WorkerLock,
    WorkerPark,
    parse_cursor,
    runs_written,
)
from ..queries import load_migrations
from ..stats import Window, summarize
from .database import Database, Q, Step, as_literal, parse_postgres_url
from .handoff import handed_job, handoff_params
from .insert import (
    COPY_FROM,
    NeedsCopy,
    Steps,
    caller_error,
    claimed_from_row,
    copy_row,
    copy_then,
    insert_graph,
    insert_runs,
    insert_step,
    is_graph,
    job_from_row,
    keys_of,
    merge_inserted,
    run_chunks,
    run_stand_ins,
    run_steps,
    run_steps_async,
    wake_messages,
    with_keys,
    with_notify,
)
from .limited import claim_limited
from .wakeup import PgWakeup

_PACKAGE = __package__ or "conveyor.store.postgres"
MIGRATIONS = load_migrations(_PACKAGE)
_dumps = json.dumps


class PostgresStore:
    dialect = "postgresql"
    announces_inserts = True  # job_insert and job_insert_runs NOTIFY in their own transaction

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.create = create  # PostgreSQL databases are never created here; migrate() makes the schema
        self.target = parse_postgres_url(url)
        self._db = Database(self.target)
        self._relaxed = Database(self.target, relaxed=True, probe=False)  # see Database: relaxed
        self.wakeup = PgWakeup(self._db, self.target, Q["notify"], Q["listen"], Q["ping"],
                               hot_path=self._relaxed, hot_session_sql=Q["relaxed_session"])

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
        """Insert, and NOTIFY the workers in the same transaction (`announces_inserts`): one round
        trip for a plain enqueue, where a separate NOTIFY after the commit cost another."""
        if not p.jobs:
            return []
        if p.connection is not None:
            return self._insert_on(p.connection, p)
        if is_graph(p):
            return self._db.run(lambda conn: self._in_transaction(conn, insert_graph(p)))
        keys = keys_of(p.jobs)
        if not keys and len(p.jobs) >= COPY_FROM:
            rows = [copy_row(j) for j in p.jobs]
            return self._db.run(lambda conn: self._in_transaction(conn, copy_then(rows, p.jobs)))
        insert = insert_step(p.jobs)
        if len(p.jobs) == 1 and (handoff := handoff_params(p.jobs[0], insert, self.target.channel)) is not None:
            return [(self._insert_handoff(p.jobs[0], handoff), True)]
        if not keys:
            created = [(Job.from_new(j), True) for j in p.jobs]
            self._db.write(*with_notify(insert, self.target.channel, wake_messages(created)))
            return created
        return self._db.run(lambda conn: self._in_transaction(conn, with_keys(p.jobs, insert, keys)))

    def _insert_handoff(self, new: NewJob, params: dict[str, Any]) -> Job:
        """One plain job, handed straight to a parked idle worker if there is one (handoff.py)."""
        worker_id, lease_expires_at, _ = self._db.returning(Q["job_insert_handoff"], params)[0]
        return Job.from_new(new, worker_id, lease_expires_at)

    def job_insert_runs(self, p: JobRunsInsert) -> list[Job]:
        """Sent in chunks in pipeline mode, one transaction (`_runs_pipelined`); a run that needs
        COPY (see insert_runs) sends it all the plain way."""
        if not p.runs:
            return []

        def write(conn: psycopg.Connection[Any]) -> list[Job]:
            try:
                return self._runs_pipelined(conn, p.runs)
            except NeedsCopy:  # rolled back; rare: parameters holding \u0000 or lone surrogates
                self._in_transaction(conn, insert_runs(p.runs))
                return runs_written(p.runs)

        return self._db.run(write)

    def _runs_pipelined(self, conn: psycopg.Connection[Any], runs: Sequence[JobRun]) -> list[Job]:
        """The chunks go out without waiting for each other's results: the server inserts one
        while the next is encoded, and the jobs to return are built while the last ones are
        inserted, before waiting for the commit."""
        with conn.pipeline(), conn.transaction():
            cur = conn.cursor()
            for step in run_chunks(runs):
                cur.execute(*step)
            cur.execute(*self._notify_step(run_stand_ins(runs)))
            jobs = runs_written(runs)
        return jobs

    def _notify_step(self, results: list[tuple[Job, bool]]) -> Step:
        return Q["notify"], {"channel": self.target.channel, "messages": wake_messages(results)}

    def _in_transaction(self, conn: psycopg.Connection[Any], steps: Steps) -> list[tuple[Job, bool]]:
        """Run `steps` and NOTIFY for the jobs they created, in one transaction."""
        with conn.transaction():
            cur = conn.cursor()
            results = run_steps(cur, steps)
            if wake_messages(results):
                cur.execute(*self._notify_step(results))
            return results

    def _insert_on(self, conn: Any, p: JobInsert) -> list[tuple[Job, bool]]:
        """Write in the caller's transaction; the NOTIFY rides along, delivered only at COMMIT."""
        if not isinstance(conn, psycopg.Connection):
            raise StoreError(
                "connection= must be a psycopg Connection (an AsyncConnection goes to enqueue_async; with "
                "SQLAlchemy pass conn.connection.driver_connection, with Django django.db.connection.connection)"
            )
        try:
            cur = conn.cursor(row_factory=tuple_row)  # whatever row factory the caller likes
            if is_graph(p):
                if _idle_in_manual_commit(conn):
                    cur.execute(Q["ping"])  # open the caller's transaction: the block below is then a savepoint
                with conn.transaction():  # a refused graph undoes only itself; the caller's transaction goes on
                    results = run_steps(cur, insert_graph(p))
            else:
                insert, keys = insert_step(p.jobs), keys_of(p.jobs)
                inserted = cur.execute(*insert).fetchall()
                live = cur.execute(Q["job_get_by_idempotency_key"], {"keys": keys}).fetchall() if keys else []
                results = merge_inserted(p.jobs, inserted, live)
            messages = wake_messages(results)
            if messages:
                cur.execute(Q["notify"], {"channel": self.target.channel, "messages": messages})
        except psycopg.Error as exc:
            raise caller_error(exc) from exc
        return results

    async def job_insert_async(self, p: JobInsert) -> list[tuple[Job, bool]]:
        """`job_insert` in the caller's `psycopg.AsyncConnection` transaction (`p.connection`)."""
        conn = p.connection
        if not isinstance(conn, psycopg.AsyncConnection):
            raise StoreError("job_insert_async needs connection= to be a psycopg AsyncConnection")
        if not p.jobs:
            return []
        try:
            cur = conn.cursor(row_factory=tuple_row)
            if is_graph(p):
                if _idle_in_manual_commit(conn):
                    await cur.execute(Q["ping"])
                async with conn.transaction():
                    results = await run_steps_async(cur, insert_graph(p))
            else:
                insert, keys = insert_step(p.jobs), keys_of(p.jobs)
                inserted = await (await cur.execute(*insert)).fetchall()
                live = []
                if keys:
                    live = await (await cur.execute(Q["job_get_by_idempotency_key"], {"keys": keys})).fetchall()
                results = merge_inserted(p.jobs, inserted, live)
            messages = wake_messages(results)
            if messages:
                await cur.execute(Q["notify"], {"channel": self.target.channel, "messages": messages})
        except psycopg.Error as exc:
            raise caller_error(exc) from exc
        return results

    def job_dependency_results(self, p: JobGet) -> dict[str, Any]:
        """Results of the jobs `p.job_id` depends on, by their id (what `ctx.dependency_results` holds)."""
        return {row[0]: row[3] for row in self._db.rows(Q["job_dependency_results"], {"job_id": p.job_id})}

    # -- periodic schedules --------------------------------------------------------------------

    def periodic_upsert(self, p: PeriodicUpsert) -> None:
        params = {"name": p.name, "schedule": p.schedule, "job_type": p.job_type,
                  "parameters": _dumps(p.parameters), "options": _dumps(p.options), "missed": p.missed,
                  "next_run_at": p.next_run_at}
        self._db.write(Q["periodic_upsert"], params, idempotent=True)

    def periodic_list(self) -> list[PeriodicRow]:
        return [PeriodicRow(*row) for row in self._db.rows(Q["periodic_list"])]

    def periodic_fire(self, p: PeriodicFire) -> list[Job] | None:
        """Move the schedule on (compare-and-set) and insert its jobs, in one transaction."""
        params = {"name": p.name, "expected": p.expected, "next_run_at": p.next_run_at,
                  "last_run_at": p.last_run_at, "last_job_id": p.jobs[-1].job_id if p.jobs else None}

        def fire(conn: psycopg.Connection[Any]) -> list[tuple[Job, bool]] | None:
            with conn.transaction():
                cur = conn.cursor()
                if cur.execute(Q["periodic_advance"], params).rowcount != 1:
                    return None  # another process fired this tick
                return run_steps(cur, insert_graph(JobInsert(p.jobs))) if p.jobs else []

        inserted = self._db.run(fire)
        return None if inserted is None else [job for job, _ in inserted]

    # -- fleet-wide limits ---------------------------------------------------------------------

    def limit_set(self, p: LimitSet) -> None:
        count, period = p.rate if p.rate else (None, None)
        params = {"scope": p.scope, "key": p.key, "max_running": p.max_running, "rate_count": count,
                  "rate_period": period, "burst": max(1.0, (count or 0) / 10), "now": p.now}
        self._db.write(Q["limit_upsert"], params, idempotent=True)

    def limit_pause(self, p: LimitPause) -> None:
        self._db.write(Q["limit_pause"], {"scope": p.scope, "key": p.key, "paused": p.paused, "now": p.now},
                       idempotent=True)

    def limit_delete(self, p: LimitDelete) -> None:
        self._db.write(Q["limit_delete"], {"scope": p.scope, "key": p.key}, idempotent=True)

    def limit_list(self) -> list[Limit]:
        return [Limit(*row) for row in self._db.rows(Q["limits_read"])]

    # -- reads ---------------------------------------------------------------------------------

    def job_get(self, p: JobGet) -> Job | None:
        rows = self._db.rows(Q["job_get"], {"job_id": p.job_id})
        return job_from_row(rows[0]) if rows else None

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
        jobs = [job_from_row(r) for r in rows[: p.limit]]
        next_cursor = jobs[-1].cursor if len(rows) > p.limit and jobs else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def log_list(self, p: LogList) -> list[LogEntry]:
        rows = self._db.rows(Q["log_list"], {"job_id": p.job_id, "limit": p.limit})
        return [LogEntry(ts, level, msg) for ts, level, msg in rows]

    # -- the worker's hot path -----------------------------------------------------------------

    def job_claim(self, p: JobClaim) -> ClaimResult:
        """One round trip, as long as no fleet-wide limit exists: the claim statements claim nothing
        once one does (job_claim*.sql), and only then does an empty claim look further: whether
        limits exist (limits_any.sql) and, if so, the limited path in a transaction of its own."""
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
        if rows or not self._relaxed.rows(Q["limits_any"])[0][0]:
            rows.sort(key=lambda r: (-r[4], r[0]))
            return ClaimResult(jobs=[claimed_from_row(r, p.worker_id) for r in rows], next_scheduled_at=next_scheduled)
        outcome = self._relaxed.run(lambda conn: claim_limited(conn, p))
        if outcome is None:  # the limits were removed meanwhile: the next claim takes the fast path
            return ClaimResult(jobs=[], next_scheduled_at=next_scheduled)
        budget, rows = outcome
        rows.sort(key=lambda r: (-r[4], r[0]))
        jobs = [claimed_from_row(r, p.worker_id) for r in rows]
        return ClaimResult(jobs, next_scheduled, limited=True, next_check_at=budget.next_token_at())

    def job_finish(self, p: JobFinish) -> list[JobId]:
        batch = FinishBatch(p.transitions)
        if not batch.transitions:
            return []
        _, finished = self._relaxed.pipelined(
            [(Q["durable_commit"], None), (Q["job_finish"], {"rows": batch.rows_json(), "now": p.now})]
        )
        rows = finished.fetchall()
        if any(cascades for _, cascades in rows):  # dependents or held batch children may be due now
            self.wakeup.notify("j:*")
        return batch.applied(row[0] for row in rows)

    def job_heartbeat(self, p: JobHeartbeat) -> list[JobId]:
        params = {"worker_id": p.worker_id, "lease_expires_at": p.now + p.lease_seconds, "job_ids": list(p.job_ids)}
        owned = {row[0] for row in self._relaxed.returning(Q["job_heartbeat"], params, idempotent=True)}
        return [job_id for job_id in p.job_ids if job_id not in owned]

    def job_rescue_expired(self, p: JobRescue) -> RescueResult:
        """Also drops the tickets of workers that died parked (parked_purge.sql)."""
        rescued, _ = self._relaxed.pipelined(
            [(Q["job_rescue_expired"], {"now": p.now}), (Q["parked_purge"], None)], transaction=False, idempotent=True
        )
        rows = rescued.fetchall()
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

    # -- the hand-off to parked idle workers (handoff.py; run on the worker's LISTEN connection) -

    def worker_lock(self, p: WorkerLock) -> bool:
        _, locked = self._relaxed.pipelined(
            [(Q["worker_unpark"], {"worker_id": p.worker_id}), (Q["worker_lock"], {"lock_key": p.lock_key})],
            transaction=False,
        )
        row = locked.fetchone()
        return bool(row and row[0])

    def worker_park(self, p: WorkerPark) -> None:
        params = {"worker_id": p.worker_id, "lock_key": p.lock_key, "lease_seconds": p.lease_seconds, "now": p.now,
                  "queues": list(p.queues) if p.queues is not None else None}
        self._relaxed.write(Q["worker_park"], params, idempotent=True)

    def worker_unpark(self, p: WorkerLock) -> bool:
        return self._relaxed.write(Q["worker_unpark"], {"worker_id": p.worker_id}, idempotent=True) == 1

    def handed_job(self, message: str, worker_id: WorkerId) -> ClaimedJob | None:
        return handed_job(message, worker_id)

    def worker_beat(self, p: WorkerBeat) -> None:
        params = {"worker_id": p.worker_id, "info": _dumps(p.info), "now": p.now,
                  "stopped_at": p.now if p.stopping else None}
        self._relaxed.write(Q["worker_beat"], params, idempotent=True)

    # -- admin ---------------------------------------------------------------------------------

    def job_cancel(self, p: JobCancel) -> Job | None:
        params = {"job_id": p.job_id, "now": p.now, "reason": p.reason}
        cancelled, got = self._db.pipelined([(Q["job_cancel"], params), (Q["job_get"], {"job_id": p.job_id})],
                                            idempotent=True)
        cascaded = any(cascades for _, cascades in cancelled.fetchall())
        row = got.fetchone()
        if cascaded:  # children or dependents changed too; running ones must hear about it
            self.wakeup.notify("c:*")
            self.wakeup.notify("j:*")
        return job_from_row(row) if row else None

    def job_retry(self, p: JobRetry) -> Job | None:
        _, got = self._db.pipelined(
            [(Q["job_retry"], {"job_id": p.job_id, "now": p.now}), (Q["job_get"], {"job_id": p.job_id})],
            idempotent=True,
        )
        row = got.fetchone()
        return job_from_row(row) if row else None

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
        counts, window, oldest = self._db.pipelined(
            [(Q["stats_counts"], None), (Q["stats_window"], since), (Q["stats_oldest_pending"], None)],
            idempotent=True,
        )
        finished = Window.read(window.fetchone() or (0, 0, 0, None),
                               lambda n: self._db.rows(Q["stats_duration_rank"], {**since, "from_top": n}))
        oldest_row = oldest.fetchone()
        return summarize([tuple(r) for r in counts.fetchall()], finished, oldest_row[0] if oldest_row else None, p)


def _idle_in_manual_commit(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """A caller's connection outside autocommit with no transaction open yet: psycopg's
    `transaction()` would then BEGIN and COMMIT on its own instead of nesting a savepoint."""
    return not conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


__all__ = ["PostgresStore", "wake_messages"]
