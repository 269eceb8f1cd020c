"""The embedded store: one SQLite file in WAL mode, shared by every process on the machine.

Durability: WAL with synchronous=NORMAL keeps every committed transaction across a kill -9 of
any process (the WAL is written before COMMIT returns); add `?synchronous=FULL` to the URL to
also survive power loss, at the cost of an fsync per commit.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs

from ...errors import InvalidJobOptions, StoreBusy, StoreError
from ...job import ClaimedJob, Job, JobId, LogEntry, NewJob, WorkerId
from ...status import TERMINAL_STATUSES
from ...webhooks.delivery import DeliveryState, WebhookDelivery
from ..limits import Budget, Limit
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
    json_or_none,
    parse_cursor,
    runs_written,
)
from ..queries import load_migrations, load_queries
from ..rows import job_from_row
from ..stats import Window, summarize
from .wakeup import SocketWakeup

_SQLITE_HEADER = b"SQLite format 3\x00"
# Checkpoint the WAL into the database every ~8,000 pages (~32 MB) rather than SQLite's 1,000.
# A checkpoint costs two fsyncs (~4 ms each on a VM disk) plus the copy, and the commit that
# crosses the threshold pays it: at 1,000 pages that was 45-150 µs per single-row enqueue on top of
# ~40 µs of work; at 8,000 about 20 µs (bench/, W1). Durability is unchanged: a commit is in the WAL
# before COMMIT returns, and synchronous=NORMAL never promised more than that.
WAL_AUTOCHECKPOINT_PAGES = 8000
Q = load_queries(__package__ or "conveyor.store.sqlite")
MIGRATIONS = load_migrations(__package__ or "conveyor.store.sqlite")
_dumps = json.dumps
_loads = json.loads


def _limit(r: tuple[Any, ...]) -> Limit:
    """A `limits_read.sql` row."""
    return Limit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))


def _load_or_none(text: str | None) -> Any:
    return None if text is None else _loads(text)


def parse_sqlite_url(url: str) -> tuple[str, dict[str, str]]:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db`, optional `?synchronous=FULL`."""
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/"):
        raise StoreError(f"invalid SQLite URL {url!r}: expected sqlite:///path/to/file.db")
    path, _, query = rest[1:].partition("?")
    if not path:
        raise StoreError(f"invalid SQLite URL {url!r}: no file path")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    return path, options


def _job_from_row(row: tuple[Any, ...]) -> Job:
    return job_from_row(row, _load_or_none)


class SQLiteStore:
    dialect = "sqlite"
    announces_inserts = False  # the app announces through the wake-up sockets after the commit

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.path, options = parse_sqlite_url(url)
        self.synchronous = options.get("synchronous", "NORMAL").upper()
        if self.synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise StoreError(f"invalid synchronous={self.synchronous!r} in {url!r}")
        self._check_file(create)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.wakeup = SocketWakeup(self.path)

    # -- connections -------------------------------------------------------------------------

    def _check_file(self, create: bool) -> None:
        """Refuse, before touching it, a file that is missing (for readers), corrupt or foreign."""
        if not os.path.exists(self.path):
            if not create:
                raise StoreError(f"database {self.path} does not exist")
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise StoreError(f"cannot create database {self.path}: folder {parent} does not exist")
            return
        if os.path.isdir(self.path):
            raise StoreError(f"database path {self.path} is a directory")
        with open(self.path, "rb") as fh:
            header = fh.read(16)
        if header and header != _SQLITE_HEADER:
            raise StoreError(f"{self.path} is not a SQLite database (left untouched)")
        if not header:
            return  # an empty file is a fresh database
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in conn.execute(Q.table_names)}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is corrupt or unreadable: {exc} (left untouched)") from None
        finally:
            conn.close()
        if tables and "conveyor_schema_version" not in tables:
            names = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"{self.path} is a SQLite database of another application (tables: {names}); "
                "refusing to touch it"
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError("store is closed")
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
                conn.execute("PRAGMA busy_timeout=30000")
                _enable_wal(conn)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open {self.path}: {exc}") from None
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA cache_size=-32000")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            conn.execute("PRAGMA recursive_triggers=ON")  # dependency cancellation cascades
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                conn.execute("PRAGMA busy_timeout=0")  # we wait for locks ourselves: see _retry_busy
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _write(self, wait: bool = True) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            if wait:
                _retry_busy(conn.execute, "BEGIN IMMEDIATE")
            else:
                conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not wait and getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY:
                raise StoreBusy(f"{self.path} is locked by another writer") from exc
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            self._rollback(conn)
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                # The disk, not the caller: full (a statement spilled pages), I/O error, corrupt.
                raise StoreError(f"write to {self.path} failed: {exc}") from exc
            raise
        except BaseException:
            self._rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback(conn)
                raise StoreError(f"commit to {self.path} failed: {exc}") from exc

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back a failed write. SQLite may have rolled it back itself (SQLITE_FULL, IOERR,
        NOMEM: then ROLLBACK would raise "no transaction is active" over the real error); a
        connection that stays stuck in its transaction is dropped, so the next write opens anew."""
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute("ROLLBACK")
        if conn.in_transaction:
            self._local.conn = None
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _read(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            return _retry_busy(lambda: self._conn().execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def close(self) -> None:
        self._closed = True
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
        self.wakeup.close()

    # -- schema --------------------------------------------------------------------------------

    def schema_version(self) -> int:
        tables = {row[0] for row in self._read(Q.table_names)}
        if "conveyor_schema_version" not in tables:
            return 0
        return int(self._read(Q.schema_version_read)[0][0])

    def migrate(self) -> None:
        with self._write() as conn:
            conn.execute(Q.schema_version_create)
            current = conn.execute(Q.schema_version_read).fetchone()[0]
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in _split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(Q.schema_version_insert, (migration.version, time.time()))

    def latest_version(self) -> int:
        return MIGRATIONS[-1].version

    # -- enqueue -------------------------------------------------------------------------------

    def job_insert(self, p: JobInsert) -> list[tuple[Job, bool]]:
        if len(p.jobs) == 1 and not p.batches and p.jobs[0].idempotency_key is None and not p.jobs[0].depends_on:
            return [(self._insert_one(p.jobs[0]), True)]
        with self._write() as conn:
            return self._insert_jobs(conn, p)

    def _insert_one(self, job: NewJob) -> Job:
        """One plain job (`enqueue`): one INSERT in autocommit, its own transaction, without the
        BEGIN and COMMIT round trips. A busy lock fails the statement before it writes anything,
        so retrying it is safe."""
        try:
            _retry_busy(self._conn().execute, Q.job_insert, _insert_row(job))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"write to {self.path} failed: {exc}") from exc
        return Job.from_new(job)

    def _insert_jobs(self, conn: sqlite3.Connection, p: JobInsert) -> list[tuple[Job, bool]]:
        rows = [_insert_row(j) for j in p.jobs]
        if p.batches:
            batches = [(b.batch_id, b.total, b.max_concurrency, int(b.fail_on_child_failure)) for b in p.batches]
            conn.executemany(Q.batch_insert, batches)
        if not any(j.idempotency_key is not None for j in p.jobs):
            conn.executemany(Q.job_insert, rows)
            out = [(Job.from_new(j), True) for j in p.jobs]
        else:
            out = []
            for new, row in zip(p.jobs, rows, strict=True):
                if conn.execute(Q.job_insert, row).rowcount == 1:
                    out.append((Job.from_new(new), True))
                else:
                    existing = conn.execute(Q.job_get_by_idempotency_key, (new.idempotency_key,))
                    out.append((_job_from_row(existing.fetchone()), False))
        if any(j.depends_on for j in p.jobs):
            out = self._insert_dependencies(conn, p, out)
        return out

    def job_insert_runs(self, p: JobRunsInsert) -> list[Job]:
        with self._write() as conn:
            for run in p.runs:
                self._insert_run(conn, run)
        return runs_written(p.runs)

    def _insert_run(self, conn: sqlite3.Connection, run: JobRun) -> None:
        t = run.template
        pairs = zip(run.job_ids, run.parameters, strict=True)
        try:
            conn.execute(Q.job_insert_run, {
                "job_type": t.job_type, "queue": t.queue, "status": t.status.value, "priority": t.priority,
                "max_attempts": t.max_attempts, "max_crashes": t.max_crashes, "timeout": t.timeout,
                "created_at": t.created_at, "run_at": t.run_at, "parent_id": t.parent_id,
                "webhook": json_or_none(t.webhook), "metadata": _dumps(t.metadata) if t.metadata else "{}",
                "on_dependency_failure": t.on_dependency_failure, "rows": _dumps(list(pairs), allow_nan=False),
            })
            return
        except ValueError:  # NaN or Infinity in the parameters: Python's JSON, not SQLite's
            pass
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):  # else e.g. nesting deeper than SQLite's reader takes
                raise
        conn.executemany(Q.job_insert, [_insert_row(j) for j in run.new_jobs()])

    # -- periodic schedules --------------------------------------------------------------------

    def periodic_upsert(self, p: PeriodicUpsert) -> None:
        params = {"name": p.name, "schedule": p.schedule, "job_type": p.job_type,
                  "parameters": _dumps(p.parameters), "options": _dumps(p.options), "missed": p.missed,
                  "next_run_at": p.next_run_at}
        with self._write() as conn:
            conn.execute(Q.periodic_upsert, params)

    def periodic_list(self) -> list[PeriodicRow]:
        return [
            PeriodicRow(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]), r[5], r[6], r[7], r[8])
            for r in self._read(Q.periodic_list)
        ]

    def periodic_fire(self, p: PeriodicFire) -> list[Job] | None:
        params = {"name": p.name, "expected": p.expected, "next_run_at": p.next_run_at,
                  "last_run_at": p.last_run_at, "last_job_id": p.jobs[-1].job_id if p.jobs else None}
        with self._write() as conn:
            if conn.execute(Q.periodic_advance, params).rowcount != 1:
                return None  # another process fired this tick
            inserted = self._insert_jobs(conn, JobInsert(p.jobs)) if p.jobs else []
        return [job for job, _ in inserted]

    def _insert_dependencies(
        self, conn: sqlite3.Connection, p: JobInsert, out: list[tuple[Job, bool]]
    ) -> list[tuple[Job, bool]]:
        """Record edges, refuse unknown dependencies, and settle jobs whose dependencies are done."""
        created = {job.job_id for job, was_created in out if was_created}
        waiting = [j.job_id for j in p.jobs if j.depends_on and j.job_id in created]
        conn.executemany(
            Q.job_dep_insert, [(dep, j.job_id) for j in p.jobs if j.job_id in created for dep in j.depends_on]
        )
        ids = _dumps(waiting)
        missing = conn.execute(Q.job_deps_missing, {"job_ids": ids}).fetchone()
        if missing:
            raise InvalidJobOptions(f"depends_on: no job {missing[0]!r}", field="depends_on")
        now = max((j.created_at for j in p.jobs), default=time.time())
        conn.execute(Q.job_deps_cancel_new, {"job_ids": ids, "now": now})
        conn.execute(Q.job_deps_release_new, {"job_ids": ids, "now": now})
        settled = {job_id: _job_from_row(conn.execute(Q.job_get, (job_id,)).fetchone()) for job_id in waiting}
        return [(settled.get(job.job_id, job), was_created) for job, was_created in out]

    def job_dependency_results(self, p: JobGet) -> dict[str, Any]:
        """Results of the jobs `p.job_id` depends on, by their id (what `ctx.dependency_results` holds)."""
        rows = self._read(Q.job_dependency_results, (p.job_id,))
        return {row[0]: _load_or_none(row[3]) for row in rows}

    # -- reads ---------------------------------------------------------------------------------

    def job_get(self, p: JobGet) -> Job | None:
        rows = self._read(Q.job_get, (p.job_id,))
        return _job_from_row(rows[0]) if rows else None

    def job_list(self, p: JobList) -> JobPage:
        cursor = parse_cursor(p.cursor)
        query = Q.job_list  # newest first through the table, filtering: right when most rows match
        if p.parent_id is not None:
            query = Q.job_list_parent
        elif p.status in TERMINAL_STATUSES:
            query = Q.job_list_done
        rows = self._read(
            query,
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
        return [LogEntry(ts, level, msg) for ts, level, msg in self._read(Q.log_list, (p.job_id, p.limit))]

    # -- the worker's hot path -----------------------------------------------------------------

    def job_claim(self, p: JobClaim) -> ClaimResult:
        base = {"worker_id": p.worker_id, "now": p.now, "lease_expires_at": p.now + p.lease_seconds}
        next_scheduled = None
        budget: Budget | None = None
        claimed: list[tuple[Any, ...]] = []
        with self._write(p.wait) as conn:
            if p.promote_due:
                conn.execute(Q.job_promote_due, {"now": p.now})
                next_scheduled = conn.execute(Q.job_next_scheduled).fetchone()[0]
            if p.queues is None:
                claimed = conn.execute(Q.job_claim_any, {**base, "limit": p.limit}).fetchall()
            else:
                for queue in p.queues:
                    left = p.limit - len(claimed)
                    if left <= 0:
                        break
                    params = {**base, "queue": queue, "limit": left}
                    claimed.extend(conn.execute(Q.job_claim, params).fetchall())
            if not claimed:  # none due, or limits exist (the statements above then claim nothing)
                limits = [_limit(r) for r in conn.execute(Q.limits_read)]
                if limits:
                    budget, claimed = self._claim_limited(conn, p, base, limits)
        claimed.sort(key=lambda r: (-r[4], r[0]))
        worker_id = p.worker_id
        jobs = [
            ClaimedJob(
                seq=r[0], job_id=r[1], job_type=r[2], queue=r[3], priority=r[4],
                parameters=_loads(r[5]) if r[5] != "{}" else {}, attempt=r[6], max_attempts=r[7],
                timeout=r[8], checkpoint=_load_or_none(r[9]),
                metadata=_loads(r[10]) if r[10] != "{}" else {}, worker_id=worker_id,
                depends_on=tuple(_loads(r[11])) if r[11] != "[]" else (),
            )
            for r in claimed
        ]
        if budget is None:
            return ClaimResult(jobs=jobs, next_scheduled_at=next_scheduled)
        return ClaimResult(jobs, next_scheduled, limited=True, next_check_at=budget.next_token_at())

    def _claim_limited(
        self, conn: sqlite3.Connection, p: JobClaim, base: dict[str, Any], limits: list[Limit]
    ) -> tuple[Budget, list[tuple[Any, ...]]]:
        """Claim in order, skipping jobs whose queue or type is at its limit (rare path)."""
        running: dict[tuple[str, str], int] = {}
        for queue, job_type, n in conn.execute(Q.limits_running):
            running[("queue", queue)] = running.get(("queue", queue), 0) + n
            running[("job_type", job_type)] = running.get(("job_type", job_type), 0) + n
        budget = Budget(limits, running, p.now)
        claimed: list[tuple[Any, ...]] = []
        queues = _dumps(list(p.queues)) if p.queues is not None else None
        # Each round either fills the claim or blocks another key, so rounds are few.
        for _ in range(len(limits) + 2):
            want = p.limit - len(claimed)
            params = {"queues": queues, "skip_queues": _dumps(budget.blocked("queue")),
                      "skip_types": _dumps(budget.blocked("job_type")), "limit": want * 4}
            candidates = conn.execute(Q.job_claim_candidates, params).fetchall()
            take: list[int] = []
            for seq, queue, job_type in candidates:
                if len(take) == want:
                    break
                if budget.take(queue, job_type):
                    take.append(seq)
            if take:
                claimed.extend(conn.execute(Q.job_claim_ids, {**base, "ids": _dumps(take)}).fetchall())
            if len(claimed) >= p.limit or len(candidates) < want * 4:
                break
        for scope, key, tokens in budget.token_updates():
            conn.execute(Q.limit_tokens_update, {"scope": scope, "key": key, "tokens": tokens, "now": p.now})
        return budget, claimed

    def limit_set(self, p: LimitSet) -> None:
        count, period = p.rate if p.rate else (None, None)
        burst = max(1.0, (count or 0) / 10)
        params = {"scope": p.scope, "key": p.key, "max_running": p.max_running, "rate_count": count,
                  "rate_period": period, "burst": burst, "now": p.now}
        with self._write() as conn:
            conn.execute(Q.limit_upsert, params)

    def limit_pause(self, p: LimitPause) -> None:
        with self._write() as conn:
            conn.execute(Q.limit_pause, {"scope": p.scope, "key": p.key, "paused": int(p.paused), "now": p.now})

    def limit_delete(self, p: LimitDelete) -> None:
        with self._write() as conn:
            conn.execute(Q.limit_delete, {"scope": p.scope, "key": p.key})

    def limit_list(self) -> list[Limit]:
        return [_limit(r) for r in self._read(Q.limits_read)]

    def job_finish(self, p: JobFinish) -> list[JobId]:
        batch = FinishBatch(p.transitions)
        if not batch.transitions:
            return []
        rows = batch.rows_json()  # encoded before taking the write lock, which other processes may be waiting for
        with self._write(p.wait) as conn:
            changes_before = conn.total_changes
            result = conn.execute(Q.job_finish, {"rows": rows, "now": p.now}).fetchall()
            # More rows changed than we updated: triggers released dependents or batch children.
            cascaded = conn.total_changes - changes_before > len(result)
            applied = batch.applied(job_id for job_id, _ in result)
            hooked = {job_id for job_id, has_webhook in result if has_webhook}
            if hooked:  # webhook outbox rows for the ones now terminal, in this transaction
                ids = [job_id for job_id in applied if job_id in hooked]
                conn.execute(Q.webhook_enqueue_terminal, {"job_ids": _dumps(ids), "now": p.now})
        if cascaded:
            self.wakeup.notify("j:*")
        return applied

    def job_heartbeat(self, p: JobHeartbeat) -> list[JobId]:
        params = {"worker_id": p.worker_id, "lease_expires_at": p.now + p.lease_seconds,
                  "job_ids": _dumps(list(p.job_ids))}
        with self._write() as conn:
            owned = {row[0] for row in conn.execute(Q.job_heartbeat, params)}
        return [job_id for job_id in p.job_ids if job_id not in owned]

    def job_rescue_expired(self, p: JobRescue) -> RescueResult:
        with self._write() as conn:
            rows = conn.execute(Q.job_rescue_expired, {"now": p.now}).fetchall()
            quarantined = [r[0] for r in rows if r[1] == "failed"]
            if quarantined:
                conn.execute(Q.webhook_enqueue_terminal, {"job_ids": _dumps(quarantined), "now": p.now})
        return RescueResult(
            requeued=[JobId(r[0]) for r in rows if r[1] == "pending"],
            quarantined=[JobId(job_id) for job_id in quarantined],
        )

    def job_next_lease_expiry(self) -> float | None:
        value = self._read(Q.job_next_lease_expiry)[0][0]
        return None if value is None else float(value)

    def job_progress(self, p: JobProgress) -> bool:
        params = {"progress": _dumps(p.progress), "job_id": p.job_id, "attempt": p.attempt,
                  "worker_id": p.worker_id}
        with self._write() as conn:
            if conn.execute(Q.job_progress, params).rowcount != 1:
                return False
            now = time.time() if p.now is None else p.now
            conn.execute(Q.webhook_enqueue_progress, {"job_id": p.job_id, "progress": params["progress"], "now": now})
            return True

    def job_checkpoint(self, p: JobCheckpoint) -> bool:
        params = {"checkpoint": _dumps(p.data), "job_id": p.job_id, "attempt": p.attempt,
                  "worker_id": p.worker_id}
        with self._write() as conn:
            return conn.execute(Q.job_checkpoint, params).rowcount == 1

    def log_insert(self, p: LogInsert) -> None:
        rows = [(p.job_id, e.timestamp, e.level, e.message) for e in p.entries]
        with self._write() as conn:
            conn.executemany(Q.log_insert, rows)

    def worker_beat(self, p: WorkerBeat) -> None:
        params = {"worker_id": p.worker_id, "info": _dumps(p.info), "now": p.now,
                  "stopped_at": p.now if p.stopping else None}
        with self._write() as conn:
            conn.execute(Q.worker_beat, params)

    # -- admin ---------------------------------------------------------------------------------

    def _update_then_get(self, sql: str, params: dict[str, Any]) -> Job | None:
        with self._write() as conn:
            conn.execute(sql, params)
            row = conn.execute(Q.job_get, (params["job_id"],)).fetchone()
        return _job_from_row(row) if row else None

    def job_cancel(self, p: JobCancel) -> Job | None:
        with self._write() as conn:
            changes_before = conn.total_changes
            cancelled = conn.execute(Q.job_cancel, {"job_id": p.job_id, "now": p.now, "reason": p.reason}).rowcount
            cascaded = conn.total_changes - changes_before > cancelled
            if cancelled:
                conn.execute(Q.webhook_enqueue_terminal, {"job_ids": _dumps([p.job_id]), "now": p.now})
            row = conn.execute(Q.job_get, (p.job_id,)).fetchone()
        if cascaded:  # children or dependents changed too; running ones must hear about it
            self.wakeup.notify("c:*")
            self.wakeup.notify("j:*")
        return _job_from_row(row) if row else None

    def job_retry(self, p: JobRetry) -> Job | None:
        return self._update_then_get(Q.job_retry, {"job_id": p.job_id, "now": p.now})

    def job_retry_failed(self, p: JobRetryFailed) -> int:
        params = {"now": p.now, "job_type": p.job_type, "queue": p.queue}
        with self._write() as conn:
            return conn.execute(Q.job_retry_failed, params).rowcount

    def job_delete(self, p: JobDelete) -> bool:
        with self._write() as conn:
            deleted = conn.execute(Q.job_delete, {"job_id": p.job_id}).rowcount == 1
            if deleted:
                conn.execute(Q.log_delete_for_job, {"job_id": p.job_id})
                conn.execute(Q.webhook_delete_for_job, {"job_id": p.job_id})
        return deleted

    def job_purge(self, p: JobPurge) -> int:
        params = {"before": p.finished_before, "statuses": _dumps([s.value for s in p.statuses])}
        with self._write() as conn:
            conn.execute(Q.job_purge_logs, params)
            conn.execute(Q.webhook_purge, params)
            return conn.execute(Q.job_purge, params).rowcount

    # -- webhook outbox (rows are written above, in the state changes' transactions) -----------

    def webhook_claim(self, p: WebhookClaim) -> list[WebhookDelivery]:
        # Find outside the write lock (a backlog scan never holds up job writes), lease inside it.
        look = {"now": p.now, "limit": p.limit, "progress_interval": p.progress_interval}
        found = self._read(Q.webhook_claimable, look)
        if not found:
            return []
        params = {"ids": _dumps([r[0] for r in found]), "owner": p.owner, "now": p.now,
                  "lease_expires_at": p.now + p.lease_seconds}
        with self._write() as conn:
            rows = conn.execute(Q.webhook_claim, params).fetchall()
        return sorted((WebhookDelivery.from_row(r) for r in rows), key=lambda d: (d.next_attempt_at, d.seq))

    def webhook_record(self, p: WebhookRecord) -> bool:
        finished = None if p.state is DeliveryState.PENDING else p.now
        params = {"state": p.state.value, "next_attempt_at": p.next_attempt_at, "last_status": p.last_status,
                  "last_error": p.last_error, "finished_at": finished, "delivery_id": p.delivery_id,
                  "owner": p.owner, "attempt": p.attempt}
        with self._write() as conn:
            return conn.execute(Q.webhook_record, params).rowcount == 1

    def webhook_list(self, p: WebhookList) -> list[WebhookDelivery]:
        return [WebhookDelivery.from_row(r) for r in self._read(Q.webhook_list, {"job_id": p.job_id})]

    def webhook_next_due(self) -> float | None:
        value = self._read(Q.webhook_next_due)[0][0]
        return None if value is None else float(value)

    def stats_read(self, p: StatsRead) -> dict[str, Any]:
        since = p.now - p.window_seconds
        counts = self._read(Q.stats_counts)
        [row] = self._read(Q.stats_window, {"since": since})
        window = Window.read(row, lambda n: self._read(Q.stats_duration_rank, {"since": since, "from_top": n}))
        oldest = self._read(Q.stats_oldest_pending)
        oldest_run_at = oldest[0][0] if oldest else None
        return summarize(counts, window, oldest_run_at, p)

    # -- API keys, audit log, live events, metrics (the HTTP API) ------------------------------

    def api_key_insert(self, p: ApiKeyInsert) -> ApiKeyRecord | None:
        params = {"key_id": p.key_id, "name": p.name, "scope": p.scope, "key_hash": p.key_hash,
                  "created_at": p.created_at}
        with self._write() as conn:
            if conn.execute(Q.api_key_insert, params).rowcount != 1:
                return None
        return ApiKeyRecord(p.key_id, p.name, p.scope, p.key_hash, p.created_at)

    def api_key_find(self, p: ApiKeyFind) -> ApiKeyRecord | None:
        rows = self._read(Q.api_key_find, {"key_hash": p.key_hash})
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_key_list(self, p: ApiKeyList) -> list[ApiKeyRecord]:
        return [ApiKeyRecord(*row) for row in self._read(Q.api_key_list, {"include_revoked": p.include_revoked})]

    def api_key_revoke(self, p: ApiKeyRevoke) -> list[ApiKeyRecord]:
        with self._write() as conn:
            rows = conn.execute(Q.api_key_revoke, {"name_or_id": p.name_or_id, "now": p.now}).fetchall()
        return [ApiKeyRecord(*row) for row in rows]

    def api_key_touch(self, p: ApiKeyTouch) -> None:
        with self._write() as conn:
            conn.execute(Q.api_key_touch, {"key_id": p.key_id, "now": p.now})

    def audit_insert(self, p: AuditInsert) -> int:
        params = {"at": p.at, "actor": p.actor, "action": p.action, "job_ids": _dumps(list(p.job_ids)),
                  "details": _dumps(p.details)}
        with self._write() as conn:
            return int(conn.execute(Q.audit_insert, params).fetchone()[0])

    def audit_list(self, p: AuditList) -> AuditPage:
        cursor = int(p.cursor) if p.cursor and p.cursor.isascii() and p.cursor.isdigit() else None
        params = {"cursor": cursor, "actor": p.actor, "action": p.action, "job_id": p.job_id, "limit": p.limit + 1}
        rows = self._read(Q.audit_list, params)
        entries = [
            AuditRecord(seq=r[0], at=r[1], actor=r[2], action=r[3], job_ids=tuple(_loads(r[4])), details=_loads(r[5]))
            for r in rows[: p.limit]
        ]
        next_cursor = str(entries[-1].seq) if len(rows) > p.limit and entries else None
        return AuditPage(entries=entries, next_cursor=next_cursor)

    def log_tail(self, p: LogTail) -> list[tuple[int, LogEntry]]:
        rows = self._read(Q.log_tail, {"job_id": p.job_id, "after": p.after, "limit": p.limit})
        return [(seq, LogEntry(ts, level, msg)) for seq, ts, level, msg in rows]

    def metrics_read(self, p: MetricsRead) -> MetricsSnapshot:
        counts = [(queue, job_type, status, n) for queue, job_type, status, n in self._read(Q.stats_counts)]
        oldest = [(queue, float(run_at)) for queue, run_at in self._read(Q.metrics_oldest_pending)]
        enqueued: list[tuple[str, str, int]] = []
        if p.enqueued_after is None or not (p.enqueued_after.isascii() and p.enqueued_after.isdigit()):
            cursor = str(self._read(Q.metrics_last_id)[0][0])
        else:
            cursor = p.enqueued_after
            rows = self._read(Q.metrics_enqueued, {"after": int(cursor)})
            enqueued = [(queue, job_type, n) for queue, job_type, n, _ in rows]
            cursor = str(max([int(cursor), *(row[3] for row in rows)]))
        finished: list[tuple[str, str, str, float | None]] = []
        if p.finished_since is not None and p.finished_until is not None:
            window = {"since": p.finished_since, "until": p.finished_until}
            finished = [(q, t, s, d) for q, t, s, d in self._read(Q.metrics_finished, window)]
        return MetricsSnapshot(counts=counts, oldest_pending=oldest, enqueued=enqueued,
                               enqueued_cursor=cursor, finished=finished)


BUSY_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


def _insert_row(j: NewJob) -> tuple[Any, ...]:
    """A `job_insert.sql` row."""
    return (
        j.job_id, j.job_type, j.queue, j.status.value, j.priority,
        _dumps(j.parameters) if j.parameters else "{}",  # empty: skip the encoder (hot path)
        j.max_attempts, j.max_crashes, j.timeout, j.created_at, j.run_at, j.parent_id,
        _dumps(list(j.depends_on)) if j.depends_on else "[]", j.idempotency_key,
        json_or_none(j.webhook), _dumps(j.metadata) if j.metadata else "{}",
        1 if j.held else 0, j.on_dependency_failure,
    )


def _retry_busy(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`, again while SQLite answers SQLITE_BUSY (another connection holds the lock), with
    naps of 20 µs doubling to 1 ms, for up to BUSY_TIMEOUT_SECONDS. SQLite's own busy handler
    sleeps 1, 2, 5, 10… ms between tries, far longer than a Conveyor transaction holds the write
    lock (well under a millisecond to a few): two worker processes on one file spent much of their
    time asleep while the lock was free, and drained slower than one. WAL connections therefore run
    with busy_timeout=0 and every lock wait goes through here (BEGIN IMMEDIATE and reads; inside
    a write transaction nothing can be busy in WAL mode)."""
    nap, deadline = 20e-6, 0.0
    while True:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            now = time.monotonic()
            deadline = deadline or now + BUSY_TIMEOUT_SECONDS
            if now >= deadline:
                raise
        time.sleep(nap)
        nap = min(nap * 2, 0.001)


def _enable_wal(conn: sqlite3.Connection, deadline_seconds: float = 30.0) -> None:
    """Switch to WAL. Two processes creating the same new file race for it, and SQLite answers
    the loser "database is locked" without waiting on the busy handler: retry until a deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _split_statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in current.splitlines()
    ):
        raise StoreError("migration ends with an incomplete statement")
    return statements




__all__ = ["SQLiteStore", "WorkerId"]
