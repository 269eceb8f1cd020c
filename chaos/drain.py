"""Drain scenario: N jobs drain on a fleet of worker processes while one is SIGKILLed (and
replaced) every few seconds and, on PostgreSQL, the server restarts once mid-run; then every job
and every recorded execution is checked (`analyze`, a pure function the tests feed directly)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor import Conveyor, ConveyorError

from .app import EXECUTIONS, create_app
from .procs import ConveyorProcess, worker_args
from .report import Row, ScenarioReport, check, info
from .stores import POSTGRES, Restart, StoreTarget, postgres_base_url, restart_command, restart_postgres

REJECTED_MARK = "rejected: this worker no longer holds its lease"


@dataclass(frozen=True, slots=True)
class DrainConfig:
    jobs: int = 10_000
    processes: int = 4
    concurrency: int = 10
    lease_seconds: float = 2.0
    kill_every: float = 2.0
    job_ms: float = 5.0
    fault_seconds: float = 60.0  # faults stop after this long, even if jobs remain
    recover_seconds: float = 60.0  # after the last fault, every job must be done within this
    restart_at: float = 0.4  # PostgreSQL restarts once this fraction of jobs is complete
    first_kill_at: float = 0.1  # the first SIGKILL once this fraction is complete (or kill_every s in)
    min_kills: int = 1  # fewer SIGKILLs than this (the jobs drained too fast) fails the run: no chaos
    # The poison-job rule fails a job whose worker died max_crashes times while running it. With one
    # kill per lease period, a killed worker's jobs are re-run just as the next kill lands, and the
    # product's default of 3 quarantined innocent jobs (5 of 10,000 in a 100 ms-job run): the chaos
    # run allows more, and shows how many were quarantined.
    max_crashes: int = 10
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    job_id: str
    pid: int
    attempt: int
    token: str
    at: float  # unix time the execution started


@dataclass(frozen=True, slots=True)
class JobView:
    job_id: str
    status: str
    attempt: int
    results: Any
    lease_expires_at: float | None
    error_code: str | None = None


def read_executions(path: Path) -> tuple[list[Execution], int]:
    """The execution log's records, and how many lines were malformed (there should be none)."""
    if not path.exists():
        return [], 0
    records, bad = [], 0
    for line in path.read_text().splitlines():
        parts = line.split()
        try:
            job_id, pid, attempt, token, at = parts
            records.append(Execution(job_id, int(pid), int(attempt), token, float(at)))
        except ValueError:
            bad += 1
    return records, bad


@dataclass(slots=True)
class Findings:
    """Everything `analyze` counts; each list holds example job ids (with why) for the report."""

    enqueued: int = 0
    completed: int = 0
    not_completed: Counter[str] = field(default_factory=Counter)  # status -> count ("missing")
    stuck: list[str] = field(default_factory=list)
    quarantined: int = 0  # failed WORKER_CRASHED (the poison-job rule); counted as lost too
    executions: int = 0
    extra_executions: int = 0
    duplicated_jobs: int = 0
    duplicated_bad: list[str] = field(default_factory=list)
    result_bad: list[str] = field(default_factory=list)
    same_attempt_twice: list[str] = field(default_factory=list)
    superseded_dead: int = 0  # re-run because the earlier execution's worker was killed or died
    rescue_delays: list[float] = field(default_factory=list)  # that worker's death → the re-run
    superseded_live: list[str] = field(default_factory=list)  # ... although that worker lived on
    foreign_executions: int = 0  # log lines for jobs this run did not enqueue

    @property
    def lost(self) -> int:
        return sum(self.not_completed.values())


def _result_problem(job: JobView, runs: Sequence[Execution]) -> str | None:
    """Why this completed job's stored result does not name exactly one execution of its final
    attempt (None when it does)."""
    results = job.results if isinstance(job.results, Mapping) else {}
    token = results.get("token")
    matching = [r for r in runs if r.token == token]
    if len(matching) != 1:
        return f"stored result matches {len(matching)} of {len(runs)} executions"
    run = matching[0]
    if results.get("attempt") != run.attempt or results.get("pid") != run.pid:
        return "stored pid/attempt differ from the execution that wrote the token"
    if run.attempt != job.attempt:
        return f"result is from attempt {run.attempt} but the job is at attempt {job.attempt}"
    if max(r.attempt for r in runs) > run.attempt:
        return "a later attempt ran after the result was recorded"
    return None


def analyze(
    enqueued: Sequence[str],
    jobs: Mapping[str, JobView],
    executions: Sequence[Execution],
    deaths: Mapping[int, float],
    now: float,
) -> Findings:
    """Check the final state against the execution log. `deaths`: pid → unix time, of every worker
    that was killed (or died); `now`: unix time of the snapshot `jobs`."""
    f = Findings(enqueued=len(enqueued), executions=len(executions))
    wanted = set(enqueued)
    runs: dict[str, list[Execution]] = defaultdict(list)
    for record in executions:
        if record.job_id in wanted:
            runs[record.job_id].append(record)
        else:
            f.foreign_executions += 1
    for job_id in enqueued:
        job = jobs.get(job_id)
        status = job.status if job else "missing"
        if status != "completed":
            f.not_completed[status] += 1
        if job is not None and job.error_code == "WORKER_CRASHED":
            f.quarantined += 1
        if job is not None and status == "running" and (job.lease_expires_at or 0) < now:
            f.stuck.append(job_id)
        job_runs = runs.get(job_id, [])
        attempts = Counter(r.attempt for r in job_runs)
        if any(n > 1 for n in attempts.values()):
            f.same_attempt_twice.append(job_id)
        if len(job_runs) > 1:
            f.duplicated_jobs += 1
            f.extra_executions += len(job_runs) - 1
        if job is not None and status == "completed":
            _check_completed(f, job, job_runs, deaths)
    return f


def _check_completed(f: Findings, job: JobView, job_runs: Sequence[Execution], deaths: Mapping[int, float]) -> None:
    """A completed job: its result names one execution; every other one died with its worker."""
    f.completed += 1
    problem = _result_problem(job, job_runs)
    if problem is not None:
        f.result_bad.append(f"{job.job_id}: {problem}")
        if len(job_runs) > 1:
            f.duplicated_bad.append(f"{job.job_id}: {problem}")
        return
    token = job.results["token"]
    for superseded in (r for r in job_runs if r.token != token):
        if superseded.pid not in deaths:
            f.superseded_live.append(f"{job.job_id}: attempt {superseded.attempt} on live pid {superseded.pid}")
            continue
        f.superseded_dead += 1
        later = [r.at for r in job_runs if r.attempt > superseded.attempt]
        if later:
            f.rescue_delays.append(min(later) - deaths[superseded.pid])


# -- running it ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Fleet:
    """The worker processes: keeps `size` alive, kills one at random on request."""

    folder: Path
    db_url: str
    config: DrainConfig
    rng: random.Random
    current: list[ConveyorProcess] = field(default_factory=list)
    every: list[ConveyorProcess] = field(default_factory=list)
    killed: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, pid)
    exited: list[tuple[int, int | None]] = field(default_factory=list)  # died on their own: (pid, code)
    deaths: dict[int, float] = field(default_factory=dict)  # pid -> unix time we killed it / saw it dead

    def spawn(self) -> ConveyorProcess:
        c = self.config
        args = worker_args(self.db_url, c.lease_seconds, c.concurrency, c.max_crashes)
        worker = ConveyorProcess(self.folder, f"worker-{len(self.every):03d}", args)
        self.current.append(worker)
        self.every.append(worker)
        return worker

    def fill(self) -> None:
        """Replace workers that exited by themselves (they should not), then top up to size."""
        for worker in [w for w in self.current if not w.alive()]:
            self.current.remove(worker)
            self.exited.append((worker.pid, worker.proc.returncode))
            self.deaths[worker.pid] = time.time()
        while len(self.current) < self.config.processes:
            self.spawn()

    def kill_one(self) -> int:
        victim = self.rng.choice(self.current)
        victim.kill9()
        self.killed.append((time.monotonic(), victim.pid))
        self.deaths[victim.pid] = time.time()
        self.current.remove(victim)
        self.spawn()
        return victim.pid

    def stop(self) -> None:
        for worker in self.current:
            worker.stop()
        self.current.clear()

    def rejected_outcomes(self) -> int:
        return sum(w.log_path.read_text(errors="replace").count(REJECTED_MARK) for w in self.every)


def _terminal_count(app: Conveyor) -> int | None:
    """Jobs in a terminal status, or None while the store cannot answer (a restart)."""
    try:
        by_status = app.stats()["by_status"]
    except ConveyorError:
        return None
    return int(by_status["completed"] + by_status["failed"] + by_status["cancelled"])


def _snapshot(app: Conveyor) -> dict[str, JobView]:
    jobs: dict[str, JobView] = {}
    cursor = None
    while True:
        page = app.list(limit=1000, cursor=cursor)
        for j in page.jobs:
            code = j.error.get("code") if j.error else None
            jobs[j.job_id] = JobView(j.job_id, j.status.value, j.attempt, j.results, j.lease_expires_at_ts, code)
        cursor = page.next_cursor
        if cursor is None:
            return jobs


def _enqueue(app: Conveyor, config: DrainConfig) -> list[str]:
    ids: list[str] = []
    for start in range(0, config.jobs, 1000):
        chunk = [("record", {"i": i, "ms": config.job_ms}) for i in range(start, min(start + 1000, config.jobs))]
        ids += [job.job_id for job in app.enqueue_many(chunk)]
    return ids


@dataclass(slots=True)
class Timeline:
    started: float
    drained: float | None = None
    restart: Restart | None = None
    restart_error: str | None = None

    def last_fault(self, fleet: Fleet) -> float | None:
        times = [t for t, _ in fleet.killed]
        if self.restart is not None:
            times.append(self.restart.ended)
        return max(times) if times else None


class _Restarter(threading.Thread):
    def __init__(self, command: list[str], base: str, timeline: Timeline) -> None:
        super().__init__(name="chaos-pg-restart", daemon=True)
        self.command, self.base, self.timeline = command, base, timeline

    def run(self) -> None:
        self.timeline.restart = restart_postgres(self.command, self.base)


def _drive(app: Conveyor, fleet: Fleet, config: DrainConfig, target: StoreTarget, timeline: Timeline) -> None:
    """The chaos loop: kill a random worker once `first_kill_at` of the jobs is done (or after
    `kill_every` s, if sooner: a fast machine drains before the first period ends), then every
    `kill_every` s while jobs remain; restart PostgreSQL once; stop faults after
    `fault_seconds`; give up `recover_seconds` after the last."""
    command, why = restart_command(postgres_base_url()) if target.kind == POSTGRES else (None, "")
    if target.kind == POSTGRES and command is None:
        timeline.restart_error = why
    restarter: _Restarter | None = None
    fleet.fill()
    next_kill = timeline.started + config.kill_every
    first_kill_due = False  # brought forward once first_kill_at is done, however fast the machine drains
    while True:
        now = time.monotonic()
        done = _terminal_count(app)
        if done is not None and done >= config.jobs:
            timeline.drained = now
            break
        faulting = now - timeline.started < config.fault_seconds
        last = timeline.last_fault(fleet) or timeline.started
        if not faulting and now - max(last, timeline.started + config.fault_seconds) > config.recover_seconds:
            break
        fleet.fill()
        if not first_kill_due and done is not None and done >= config.first_kill_at * config.jobs:
            first_kill_due, next_kill = True, min(next_kill, now)
        if faulting and now >= next_kill:
            fleet.kill_one()
            first_kill_due, next_kill = True, now + config.kill_every
        due = done is not None and done >= config.restart_at * config.jobs
        if command is not None and restarter is None and faulting and due:
            restarter = _Restarter(command, postgres_base_url(), timeline)
            restarter.start()
        time.sleep(0.05)  # the chaos clock's tick; every wait above has its deadline
    if restarter is not None:
        restarter.join(90)


def run_drain(folder: Path, target: StoreTarget, config: DrainConfig) -> ScenarioReport:
    folder.mkdir(parents=True, exist_ok=True)
    title = f"Drain · {target.label} · {config.jobs:,} jobs"
    report = ScenarioReport("drain", target.label, title)
    app = create_app()
    app.configure(database_url=target.url, lease_seconds=config.lease_seconds, max_crashes=config.max_crashes)
    fleet = Fleet(folder, target.url, config, random.Random(config.seed))
    try:
        enqueued = _enqueue(app, config)
        timeline = Timeline(started=time.monotonic())
        try:
            _drive(app, fleet, config, target, timeline)
            jobs = _snapshot(app)
            snapshot_at = time.time()
        finally:
            fleet.stop()
        executions, malformed = read_executions(folder / EXECUTIONS)
        findings = analyze(enqueued, jobs, executions, fleet.deaths, snapshot_at)
        report.rows = _rows(findings, fleet, config, target, timeline, malformed)
        report.notes = _notes(findings, fleet, target)
    finally:
        app.close()
    return report


def _rows(f: Findings, fleet: Fleet, config: DrainConfig, target: StoreTarget, timeline: Timeline,
          malformed: int) -> list[Row]:
    kills = len(fleet.killed)
    bound = kills * config.concurrency
    restarted = timeline.restart is not None and timeline.restart.ok
    rows = [
        info("workers", f"{config.processes} processes × {config.concurrency}, lease {config.lease_seconds:g} s, "
                        f"max_crashes {config.max_crashes}"),
        info("job", f"records its execution, sleeps {config.job_ms:g} ms"),
        check(f"SIGKILLs: the first at {config.first_kill_at:.0%} done, then one every {config.kill_every:g} s "
              "(each followed by a new worker)", kills,
              config.min_kills, at_most=False),
    ]
    if target.kind == POSTGRES:
        rows.append(_restart_row(timeline))
    rows += [
        info("workers that exited on their own (replaced)", str(len(fleet.exited))),
        check("lost: jobs not completed", f.lost, 0),
        info("… of those, quarantined by the poison-job rule (WORKER_CRASHED)", str(f.quarantined)),
        check("stuck in running past the lease", len(f.stuck), 0),
        info("executions recorded", f"{f.executions:,}"),
        check(f"executions beyond one per job (≤ kills × concurrency = {kills} × {config.concurrency})",
              f.extra_executions, bound),
        info("jobs executed more than once", f"{f.duplicated_jobs:,}"),
        check("… of those, result not recorded exactly once", len(f.duplicated_bad), 0),
        check("completed jobs whose result names ≠ 1 execution of the final attempt", len(f.result_bad), 0),
        check("one attempt executed twice (fencing broken)", len(f.same_attempt_twice), 0),
        info("re-runs after a killed/dead worker", f"{f.superseded_dead:,}"),
        info("rescue delay (worker killed → its job re-run), median / max", _delays(f.rescue_delays)),
    ]
    live_label = "re-runs although the earlier worker lived (lease lost while alive)"
    if restarted:
        rows.append(info(live_label + " [database restarted]", str(len(f.superseded_live))))
    else:
        rows.append(check(live_label, len(f.superseded_live), 0))
    rows += [
        info("stale outcomes refused by fencing (worker logs)", str(fleet.rejected_outcomes())),
        check("malformed execution-log lines", malformed + f.foreign_executions, 0),
    ]
    rows += _time_rows(config, fleet, timeline)
    return rows


def _delays(delays: list[float]) -> str:
    if not delays:
        return "-"
    ordered = sorted(delays)
    return f"{ordered[len(ordered) // 2]:.2f} s / {ordered[-1]:.2f} s"


def _restart_row(timeline: Timeline) -> Row:
    if timeline.restart_error is not None:
        return Row("PostgreSQL server restarted mid-run", "no", "1 restart", False)
    if timeline.restart is None:
        return Row("PostgreSQL server restarted mid-run", "no (drained first)", "1 restart", False)
    r = timeline.restart
    value = f"yes, down/up in {r.ended - r.started:.1f} s" if r.ok else f"failed: {r.detail}"
    return Row("PostgreSQL server restarted mid-run", value, "1 restart", r.ok)


def _time_rows(config: DrainConfig, fleet: Fleet, timeline: Timeline) -> list[Row]:
    if timeline.drained is None:
        return [Row("time to recover (last fault → all jobs done)", "never", f"≤ {config.recover_seconds:g} s", False)]
    elapsed = timeline.drained - timeline.started
    last = timeline.last_fault(fleet)
    recover = timeline.drained - last if last is not None else 0.0
    return [
        info("drain time (workers started → all done)", f"{elapsed:.1f} s ({config.jobs / elapsed:,.0f} jobs/s)"),
        check("time to recover (last fault → all jobs done), s", recover, config.recover_seconds, fmt="{:.2f}"),
    ]


def _notes(f: Findings, fleet: Fleet, target: StoreTarget) -> list[str]:
    notes = []
    if f.not_completed:
        notes.append("not completed by status: " + ", ".join(f"{k} {v}" for k, v in sorted(f.not_completed.items())))
    for label, items in (("stuck", f.stuck), ("result", f.result_bad), ("same attempt twice", f.same_attempt_twice),
                         ("re-run on a live worker", f.superseded_live)):
        if items:
            notes.append(f"{label}: " + "; ".join(items[:3]) + (" …" if len(items) > 3 else ""))
    if fleet.exited:
        codes = Counter(code for _, code in fleet.exited)
        notes.append("workers exited on their own with codes " + ", ".join(f"{c} ×{n}" for c, n in codes.items()))
    return notes
