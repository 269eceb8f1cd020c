"""Commands that inspect and steer jobs: enqueue, status, jobs, stats, logs, cancel, retry, purge."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..admin import Operator
from ..app import Conveyor
from ..job import Job, LogEntry
from ..status import JobStatus
from .common import common_options, fail, handle_errors, load_app, open_app
from .keys import CLI_ACTOR

if TYPE_CHECKING:
    ParamTypeBase: TypeAlias = click.ParamType[Any, Any]
else:  # click < 8.2 has no type parameters on ParamType
    ParamTypeBase = click.ParamType

FOLLOW_POLL_SECONDS = 0.1
PIPE_WIDTH = 200  # tables piped to a file or grep are not squeezed to 80 columns

# -- parsing ---------------------------------------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(rf"(?:{_NUMBER}\s*(?:ms|s|m|h|d|w)\s*)+")
_DURATION_PART = re.compile(rf"({_NUMBER})\s*(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """`10s`, `5m`, `1.5h`, `7d`, `1h30m` or a plain number of seconds → seconds (never negative)."""
    value = text.strip().lower()
    if re.fullmatch(_NUMBER, value):
        seconds = float(value)
    elif value and _DURATION.fullmatch(value):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(value))
    else:
        raise ValueError(f"{text!r} is not a duration: use e.g. 30s, 5m, 1.5h, 7d or a number of seconds")
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is too long a duration")
    return seconds


def parse_json_value(text: str) -> Any:
    """JSON when `text` is valid JSON (numbers, true, null, objects…), else the text itself."""

    def no_constants(name: str) -> Any:
        raise ValueError(name)  # NaN/Infinity are not JSON: keep them as text

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError:
        return text


class DurationType(ParamTypeBase):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class ParamPairType(ParamTypeBase):
    """`key=value` for `--param`; the value is JSON when it parses as JSON."""

    name = "key=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        key, sep, raw = str(value).partition("=")
        if not sep:
            self.fail(f"{value!r} has no '=': use key=value", param, ctx)
        if not key.strip():
            self.fail(f"{value!r} has an empty key: use key=value", param, ctx)
        return key.strip(), parse_json_value(raw)


class JsonObjectType(ParamTypeBase):
    name = "json"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            data = json.loads(value)
        except ValueError as exc:
            self.fail(f"not valid JSON: {exc}", param, ctx)
        if not isinstance(data, dict):
            self.fail(f"must be a JSON object like '{{\"key\": 1}}', got {type(data).__name__}", param, ctx)
        return data


class IsoTimeType(ParamTypeBase):
    name = "iso-time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 time like 2026-01-01T09:00:00Z", param, ctx)
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # naive means UTC


DURATION = DurationType()
STATUS_CHOICE = click.Choice([s.value for s in JobStatus])

# -- rendering -------------------------------------------------------------------------------------

STATUS_STYLES = {
    JobStatus.WAITING: "magenta",
    JobStatus.SCHEDULED: "blue",
    JobStatus.PENDING: "cyan",
    JobStatus.RUNNING: "bold cyan",
    JobStatus.COMPLETED: "green",
    JobStatus.FAILED: "bold red",
    JobStatus.CANCELLED: "yellow",
}
LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "red", "critical": "bold red"}


def make_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=PIPE_WIDTH)
    return console


def status_text(status: JobStatus) -> Text:
    return Text(status.value, style=STATUS_STYLES[status])


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    if 0 < value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.2f}s"
    minutes, secs = divmod(value, 60)
    if minutes < 60:
        return f"{minutes:.0f}m{secs:02.0f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:.0f}h{minutes:02.0f}m"


def progress_text(progress: Mapping[str, Any] | None) -> str:
    if not progress:
        return "-"
    parts = []
    if progress.get("percent") is not None:
        parts.append(f"{progress['percent']:g}%")
    for key in ("step", "message"):
        if progress.get(key):
            parts.append(str(progress[key]))
    return " ".join(parts) or "-"


def error_text(error: Mapping[str, Any] | None) -> str:
    if not error:
        return "-"
    return f"{error.get('code', 'ERROR')}: {error.get('message', '')}"


def log_line(entry: LogEntry) -> Text:
    line = Text(when(entry.timestamp) + " ", style="dim")
    line.append(f"{entry.level.upper():<8}", style=LEVEL_STYLES.get(entry.level, ""))
    line.append(entry.message)
    return line


def compact_json(value: Any, limit: int = 2000) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def job_summary(job: Job, logs: list[LogEntry]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, Text | str]] = [
        ("Job", job.job_id),
        ("Type", Text(job.job_type)),
        ("Queue", Text(job.queue)),
        ("Status", status_text(job.status)),
        ("Priority", str(job.priority)),
        ("Attempt", f"{job.attempt}/{job.max_attempts}"),
        ("Progress", Text(progress_text(job.progress))),
    ]
    if job.status is JobStatus.COMPLETED:
        rows.append(("Result", Text(compact_json(job.results))))
    if job.error:
        rows.append(("Error", Text(error_text(job.error), style="red")))
    rows += [
        ("Created", when(job.created_at_ts)),
        ("Run at", when(job.run_at_ts)),
        ("Started", when(job.started_at_ts)),
        ("Finished", when(job.finished_at_ts)),
        ("Duration", seconds_text(job.duration)),
    ]
    if job.depends_on:
        rows.append(("Depends on", ", ".join(job.depends_on)))
    rows.append(("Logs", f"{len(logs)} entr{'y' if len(logs) == 1 else 'ies'}" + (" (last 5 below)" if logs else "")))
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def job_logs(app: Conveyor, job_id: str) -> list[LogEntry]:
    entries: Any = app.logs(job_id)  # Any: `Conveyor.list` shadows `list` in app.py's annotations
    return [entry for entry in entries]


def job_json(job: Job, logs: list[LogEntry]) -> dict[str, Any]:
    return {**job.to_dict(), "logs": [entry.to_dict() for entry in logs]}


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def count_table(title: str, first: str, groups: Mapping[str, Mapping[str, int]]) -> Table:
    statuses = [s for s in JobStatus if any(g.get(s.value) for g in groups.values())]
    table = Table(title=title, title_justify="left")
    table.add_column(first)
    table.add_column("total", justify="right")
    for status in statuses:
        table.add_column(status.value, justify="right", style=STATUS_STYLES[status])
    for name, counts in sorted(groups.items()):
        table.add_row(Text(name), str(counts.get("total", 0)), *(str(counts.get(s.value, 0)) for s in statuses))
    return table


# -- enqueue ---------------------------------------------------------------------------------------


@click.command()
@click.argument("job_type")
@click.option("--param", "params", multiple=True, type=ParamPairType(),
              help="A parameter key=value; the value is parsed as JSON when it is JSON (repeatable).")
@click.option("--json", "json_params", type=JsonObjectType(), metavar="OBJECT",
              help="Parameters as a JSON object; --param values win over it.")
@click.option("--priority", type=click.IntRange(0, 10), help="0-10, higher runs first. [default: 5]")
@click.option("--queue", help="Queue to put the job on. [default: the handler's, else 'default']")
@click.option("--delay", type=DURATION, help="Run after this long: 10s, 5m, 2h, 7d or seconds.")
@click.option("--run-at", type=IsoTimeType(), help="Run at this ISO-8601 time (UTC unless it says).")
@click.option("--max-attempts", type=click.IntRange(1, 1000), help="Attempts before the job fails.")
@click.option("--timeout", type=DURATION, help="Per-attempt time limit: 30s, 5m…")
@click.option("--idempotency-key", help="Enqueueing the same key again returns the unfinished job.")
@common_options
@handle_errors
def enqueue(
    job_type: str,
    params: tuple[tuple[str, Any], ...],
    json_params: dict[str, Any] | None,
    priority: int | None,
    queue: str | None,
    delay: float | None,
    run_at: datetime | None,
    max_attempts: int | None,
    timeout: float | None,
    idempotency_key: str | None,
    app_spec: str | None,
    db: str | None,
) -> None:
    """Submit a job; prints its id alone on the last line."""
    if delay is not None and run_at is not None:
        raise click.UsageError("give --delay or --run-at, not both")
    if timeout is not None and timeout <= 0:
        raise click.BadParameter("must be more than zero", param_hint="'--timeout'")
    app = load_app(app_spec)
    app.configure(database_url=db)
    new_job = app.build_job(  # validate everything before the store is opened: bad input touches nothing
        job_type,
        {**(json_params or {}), **dict(params)},
        priority=priority,
        queue=queue,
        delay=delay,
        run_at=run_at,
        max_attempts=max_attempts,
        timeout=timeout,
        idempotency_key=idempotency_key,
    )
    try:
        app.open(create=True)
        job = app.insert([new_job])[0]
    finally:
        app.close()
    if job.job_id != new_job.job_id:
        click.echo(f"idempotency key {idempotency_key!r} matches unfinished job {job.job_id} "
                   f"({job.status.value}); not enqueued again", err=True)
    click.echo(job.job_id)


# -- status ----------------------------------------------------------------------------------------


def follow_line(job: Job) -> Text:
    line = status_text(job.status)
    if job.progress:
        line.append(" " + progress_text(job.progress))
    if job.error:
        line.append(" " + error_text(job.error), style="red")
    return line


def follow(app: Conveyor, job: Job, console: Console) -> Job:
    """Draw a live progress bar (and new log lines above it) until the job is terminal."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    printed_logs = 0
    last_seen: tuple[Any, ...] = ()
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(job.job_type, total=100)
        while True:
            logs = job_logs(app, job.job_id)
            for entry in logs[printed_logs:]:
                bar.console.print(log_line(entry))
            printed_logs = len(logs)
            progress = job.progress or {}
            seen = (job.status, progress.get("step"), progress.get("message"))
            if seen != last_seen:
                bar.console.print(follow_line(job))
                last_seen = seen
            percent = 100.0 if job.status is JobStatus.COMPLETED else float(progress.get("percent") or 0)
            description = Text.assemble(Text(job.job_type, style="bold"), " ", status_text(job.status))
            bar.update(task, completed=percent, description=description)  # type: ignore[arg-type]
            if job.status.is_terminal:
                return job
            time.sleep(FOLLOW_POLL_SECONDS)
            job = app.get(job.job_id)


@click.command()
@click.argument("job_id")
@click.option("--follow", "-f", "follow_", is_flag=True,
              help="Show a live progress bar until the job ends; exit 0 if it completed, 1 if not.")
@click.option("--json", "as_json", is_flag=True, help="Print the job as JSON (SPEC §4) with its logs.")
@common_options
@handle_errors
def status(job_id: str, follow_: bool, as_json: bool, app_spec: str | None, db: str | None) -> None:
    """Show one job, or follow it live with --follow.

    Status, attempts, progress, result or error, times and its latest log lines.
    """
    app = open_app(app_spec, db, create=False)
    try:
        job = app.get(job_id)
        if follow_:
            job = follow(app, job, make_console(stderr=as_json))
        logs = job_logs(app, job.job_id)
    finally:
        app.close()
    if as_json:
        print_json(job_json(job, logs))
    else:
        console = make_console()
        console.print(job_summary(job, logs))
        for entry in logs[-5:]:
            console.print(log_line(entry))
    if follow_ and job.status is not JobStatus.COMPLETED:
        raise fail(f"job {job.job_id} {job.status.value}: {error_text(job.error)}")


# -- jobs, stats, logs -----------------------------------------------------------------------------


@click.command("jobs")
@click.option("--status", "status_", type=STATUS_CHOICE, help="Only jobs with this status.")
@click.option("--type", "job_type", help="Only jobs of this job type.")
@click.option("--queue", help="Only jobs on this queue.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Jobs per page.")
@click.option("--cursor", help="Continue from a previous page's cursor.")
@click.option("--json", "as_json", is_flag=True, help="Print {jobs: [...], next_cursor} as JSON.")
@common_options
@handle_errors
def list_jobs(
    status_: str | None,
    job_type: str | None,
    queue: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    app_spec: str | None,
    db: str | None,
) -> None:
    """List jobs, newest first."""
    app = open_app(app_spec, db, create=False)
    try:
        page = app.list(status=status_, job_type=job_type, queue=queue, limit=limit, cursor=cursor)
    finally:
        app.close()
    if as_json:
        print_json({"jobs": [job.to_dict() for job in page.jobs], "next_cursor": page.next_cursor})
        return
    console = make_console()
    if not page.jobs:
        console.print("No jobs.")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=36)
    for name in ("type", "queue", "status"):
        table.add_column(name)
    table.add_column("pri", justify="right")
    table.add_column("attempt", justify="right")
    for name in ("progress", "created", "duration"):
        table.add_column(name)
    for job in page.jobs:
        table.add_row(
            job.job_id, Text(job.job_type), Text(job.queue), status_text(job.status), str(job.priority),
            f"{job.attempt}/{job.max_attempts}", Text(progress_text(job.progress)), when(job.created_at_ts),
            seconds_text(job.duration),
        )
    console.print(table)
    if page.next_cursor:
        console.print(Text(f"more: conveyor jobs --cursor {page.next_cursor}", style="dim"))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the stats as JSON.")
@common_options
@handle_errors
def stats(as_json: bool, app_spec: str | None, db: str | None) -> None:
    """Show job statistics.

    Counts by status, queue and type; success rate, average and p95 duration, throughput.
    """
    app = open_app(app_spec, db, create=False)
    try:
        data = app.stats()
    finally:
        app.close()
    if as_json:
        print_json(data)
        return
    console = make_console()
    summary = Table(title="Summary", title_justify="left", show_header=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    rate = data.get("success_rate")
    window_min = float(data.get("window_sec") or 3600) / 60
    summary.add_row("total jobs", str(data["total_jobs"]))
    summary.add_row("success rate", "-" if rate is None else f"{100 * rate:.1f}%")
    summary.add_row("avg duration", seconds_text(data.get("avg_duration_sec")))
    summary.add_row("p95 duration", seconds_text(data.get("p95_duration_sec")))
    summary.add_row(f"throughput (last {window_min:g} min)", f"{data.get('throughput_per_min', 0):.1f}/min")
    summary.add_row("oldest pending", seconds_text(data.get("oldest_pending_age_sec")))
    console.print(summary)
    by_status = Table(title="By status", title_justify="left")
    by_status.add_column("status")
    by_status.add_column("jobs", justify="right")
    for s in JobStatus:
        by_status.add_row(status_text(s), str(data["by_status"].get(s.value, 0)))
    console.print(by_status)
    if data["by_queue"]:
        console.print(count_table("By queue", "queue", data["by_queue"]))
    if data["by_type"]:
        console.print(count_table("By type", "type", data["by_type"]))


@click.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
@common_options
@handle_errors
def logs(job_id: str, as_json: bool, app_spec: str | None, db: str | None) -> None:
    """Print a job's log entries, oldest first."""
    app = open_app(app_spec, db, create=False)
    try:
        job = app.get(job_id)
        entries = job_logs(app, job.job_id)
    finally:
        app.close()
    if as_json:
        print_json([entry.to_dict() for entry in entries])
        return
    console = make_console()
    for entry in entries:
        console.print(log_line(entry))


# -- admin actions ---------------------------------------------------------------------------------


@click.command()
@click.argument("job_id")
@common_options
@handle_errors
def cancel(job_id: str, app_spec: str | None, db: str | None) -> None:
    """Cancel an unfinished job.

    A running job is told to stop. The action is recorded in the audit log.
    """
    app = open_app(app_spec, db, create=False)
    try:
        job = Operator(app, CLI_ACTOR).cancel(job_id)
    finally:
        app.close()
    click.echo(f"{job.job_id} {job.status.value}")


@click.command()
@click.argument("job_id", required=False)
@click.option("--all-failed", is_flag=True, help="Retry every failed job (narrow with --type/--queue).")
@click.option("--type", "job_type", help="With --all-failed: only this job type.")
@click.option("--queue", help="With --all-failed: only this queue.")
@common_options
@handle_errors
def retry(
    job_id: str | None, all_failed: bool, job_type: str | None, queue: str | None, app_spec: str | None, db: str | None
) -> None:
    """Run a failed or cancelled job again.

    With --all-failed, every failed job (optionally of one type or queue). Audited.
    """
    if all_failed == (job_id is not None):
        raise click.UsageError("give a job ID or --all-failed (not both)")
    if not all_failed and (job_type or queue):
        raise click.UsageError("--type and --queue go with --all-failed")
    app = open_app(app_spec, db, create=False)
    try:
        operator = Operator(app, CLI_ACTOR)
        if job_id is not None:
            job = operator.retry(job_id)
            click.echo(f"{job.job_id} {job.status.value}")
        else:
            count = operator.retry_failed(job_type=job_type, queue=queue)
            click.echo(f"{count} failed job{'' if count == 1 else 's'} retried")
    finally:
        app.close()


@click.command()
@click.option("--older-than", type=DURATION, required=True, help="Delete jobs that finished this long ago: 7d, 12h…")
@common_options
@handle_errors
def purge(older_than: float, app_spec: str | None, db: str | None) -> None:
    """Delete old finished jobs and their logs.

    Completed, failed and cancelled jobs that finished before --older-than. Audited.
    """
    app = open_app(app_spec, db, create=False)
    try:
        count = Operator(app, CLI_ACTOR).purge(older_than)
    finally:
        app.close()
    click.echo(f"{count} finished job{'' if count == 1 else 's'} purged (finished more than "
               f"{seconds_text(older_than)} ago)")


COMMANDS: list[click.Command] = [enqueue, status, list_jobs, stats, logs, cancel, retry, purge]
