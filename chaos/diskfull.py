"""Disk-full scenario: the SQLite database lives on a small filesystem (a tmpfs mounted for the
run) that an enqueuing process fills to ENOSPC while a worker and the API server use the same
file. Expected: enqueue fails with a one-line StoreError (CLI: one `Error:` line; API: 503),
every job acknowledged before is intact, and once space is freed everything carries on.

Where mounts are not permitted (not root), it falls back to RLIMIT_FSIZE on the enqueuing
processes (filler, CLI, server) — a file-size limit, not a full disk — and says so in the table."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import resource
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from conveyor import Conveyor

from .api import create_key, start_server
from .procs import APP, PYTHON, ROOT, ChaosTimeout, ConveyorProcess, conveyor_env, free_port, run_cli, wait_until
from .procs import worker_args as make_worker_args
from .report import Row, ScenarioReport, check, info

TMPFS = "tmpfs"
RLIMIT = "rlimit"


@dataclass(frozen=True, slots=True)
class DiskFullConfig:
    size_mb: int = 4
    force_rlimit: bool = False  # use the fallback even where mounting works (to test it)
    deadline_seconds: float = 60.0


@dataclass(slots=True)
class SmallDisk:
    """Where the database lives and how that place runs out of (and regains) space."""

    mode: str
    folder: Path
    detail: str
    limit: int = 0  # RLIMIT_FSIZE bytes (rlimit mode)
    ballast: Path | None = None  # deleted to free space (tmpfs mode)
    limited: list[int] = field(default_factory=list)  # pids under the limit (rlimit mode)

    def preexec(self) -> Callable[[], None] | None:
        if self.mode != RLIMIT:
            return None
        limit = self.limit

        def apply() -> None:  # in the child, before exec; Python ignores SIGXFSZ itself
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

        return apply

    def fill_ballast(self) -> None:
        """tmpfs: take half the free space now, to give back later."""
        if self.mode != TMPFS:
            return
        free = os.statvfs(self.folder).f_bavail * os.statvfs(self.folder).f_frsize
        self.ballast = self.folder / "ballast"
        self.ballast.write_bytes(b"\0" * (free // 2))

    def free(self) -> None:
        if self.ballast is not None:
            self.ballast.unlink()
            self.ballast = None
        for pid in self.limited:
            with contextlib.suppress(ProcessLookupError):
                _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))


def _mount_tmpfs(where: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of `size_mb` at `where`; None on success, else why not."""
    if os.geteuid() != 0:
        return "not root (mounting a filesystem needs CAP_SYS_ADMIN)"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"mount failed: {(done.stderr or done.stdout).strip()}"
    return None


def _unmount(where: Path) -> None:
    for _ in range(50):
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.1)  # a process we stopped may still be closing the file
    subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@contextlib.contextmanager
def small_disk(folder: Path, config: DiskFullConfig) -> Iterator[SmallDisk]:
    where = folder / "small-disk"
    where.mkdir(parents=True, exist_ok=True)
    why = "forced by --disk-rlimit" if config.force_rlimit else _mount_tmpfs(where, config.size_mb)
    if why is None:
        try:
            yield SmallDisk(TMPFS, where, f"tmpfs of {config.size_mb} MB, mounted for the run")
        finally:
            _unmount(where)
        return
    limit = config.size_mb * 1024 * 1024
    yield SmallDisk(RLIMIT, where, f"FALLBACK: RLIMIT_FSIZE={config.size_mb} MB on the enqueuing processes, "
                                   f"not a full disk ({why})", limit=limit)


class Filler:
    """The `chaos.filler` subprocess; its stdout JSON events are read with deadlines."""

    def __init__(self, folder: Path, db_url: str, acked: Path, preexec: Callable[[], None] | None) -> None:
        self.log = open(folder / "logs" / "filler.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "chaos.filler", db_url, str(acked)], env=conveyor_env(folder), cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, preexec_fn=preexec,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[str] | None) -> None:
        for line in stream or ():
            with contextlib.suppress(json.JSONDecodeError):
                self.events.put(json.loads(line))
        self.events.put({"event": "exited"})

    def next(self, expected: str, timeout: float) -> dict[str, Any]:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise ChaosTimeout(f"timed out after {timeout:g}s waiting for the filler's {expected!r}") from None
        if event.get("event") != expected:
            self.log.flush()
            tail = Path(self.log.name).read_text(errors="replace")[-800:]
            raise ChaosTimeout(f"filler said {event} instead of {expected!r}; stderr: {tail}")
        return event

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


@dataclass(slots=True)
class Observed:
    full: dict[str, Any] = field(default_factory=dict)
    still_full: list[Any] = field(default_factory=list)
    big_batch: dict[str, Any] = field(default_factory=dict)
    cli: subprocess.CompletedProcess[str] | None = None
    api_full: tuple[int, Any] = (0, None)
    api_after: tuple[int, Any] = (0, None)
    after: dict[str, Any] = field(default_factory=dict)
    server_survived: bool = False
    worker_survived: bool = False
    drained: bool = False
    filler_exit: int | None = None


def _post(port: int, key: str, i: int) -> tuple[int, Any]:
    body = {"job_type": "record", "parameters": {"i": i, "ms": 1}}
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/jobs/", json=body, timeout=30,
                       headers={"Authorization": f"Bearer {key}"})
    except httpx.TransportError as exc:
        return -1, f"{type(exc).__name__}: {exc}"
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text[:200]


def run_disk_full(folder: Path, config: DiskFullConfig) -> ScenarioReport:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    report = ScenarioReport("disk-full", "SQLite", "Disk full · SQLite")
    with small_disk(folder, config) as disk:
        if disk.mode == RLIMIT:
            report.title += " · FALLBACK: RLIMIT_FSIZE, not a full disk"
        url = f"sqlite:///{disk.folder / 'chaos.db'}"
        acked_file = folder / "acked.txt"
        observed = Observed()
        try:
            _exercise(folder, disk, url, acked_file, observed, config)
            verdict = [_short(row, str(disk.folder / "chaos.db")) for row in _verify(disk, url, acked_file, observed)]
        except ChaosTimeout as exc:
            verdict = [Row("scenario ran to the end", str(exc), "yes", False)]
        report.rows = [info("filesystem", disk.detail), *verdict]
    return report


def _exercise(folder: Path, disk: SmallDisk, url: str, acked: Path, seen: Observed, config: DiskFullConfig) -> None:
    migrated = run_cli(folder, ["migrate", "--db", url, "--app", APP])
    if migrated.returncode != 0:
        raise ChaosTimeout(f"conveyor migrate failed: {migrated.stderr.strip()}")
    key, why = create_key(folder, url)
    if key is None:
        raise ChaosTimeout(f"conveyor keys create failed: {why}")
    disk.fill_ballast()
    port = free_port()
    limit = disk.preexec()
    if disk.mode == RLIMIT:  # the fallback limits what enqueues: the server too
        disk.limit = max(disk.limit, _db_bytes(disk.folder) + 1024 * 1024)
        limit = disk.preexec()
    server = _start_limited_server(folder, url, port, limit, disk)
    worker = ConveyorProcess(folder, "worker", make_worker_args(url, 2.0, 10))
    filler = Filler(folder, url, acked, limit)
    if disk.mode == RLIMIT:
        disk.limited.append(filler.proc.pid)
    try:
        filler.next("ready", config.deadline_seconds)
        seen.full = filler.next("full", config.deadline_seconds)
        seen.still_full = filler.next("still_full", config.deadline_seconds)["errors"]
        seen.big_batch = filler.next("big_batch", config.deadline_seconds)
        seen.cli = run_cli(folder, ["enqueue", "record", "--json", '{"i": -1, "ms": 1}', "--db", url, "--app", APP],
                           preexec=limit)
        seen.api_full = _post(port, key, -2)
        seen.server_survived = server.alive()
        seen.worker_survived = worker.alive()
        disk.free()
        filler.go()
        seen.after = filler.next("after", config.deadline_seconds)
        seen.filler_exit = filler.proc.wait(config.deadline_seconds)
        seen.api_after = _post(port, key, -3)
        seen.drained = _wait_drained(url, config.deadline_seconds)
    finally:
        filler.stop()
        server.stop()
        worker.stop()


def _start_limited_server(
    folder: Path, url: str, port: int, limit: Callable[[], None] | None, disk: SmallDisk
) -> ConveyorProcess:
    if limit is None:
        return start_server(folder, url, port, 0)
    server = ConveyorProcess(folder, "server-0", ["serve", "--db", url, "--app", APP, "--port", str(port)], limit)
    disk.limited.append(server.pid)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, 30, "the API server to answer /health")
    return server


def _short(row: Row, db_path: str) -> Row:
    """Messages name the database file by its full path: shown as `chaos.db` in the table."""
    return Row(row.label, row.value.replace(db_path, "chaos.db"), row.expect, row.ok)


def _db_bytes(where: Path) -> int:
    return max((p.stat().st_size for p in where.glob("chaos.db*")), default=0)


def _wait_drained(url: str, timeout: float) -> bool:
    app = Conveyor(url)
    try:
        def drained() -> bool:
            by_status: dict[str, int] = app.stats()["by_status"]
            return by_status["completed"] == sum(by_status.values())

        with contextlib.suppress(ChaosTimeout):
            return wait_until(drained, timeout, "the worker to finish every stored job", interval=0.1)
        return False
    finally:
        app.close()


def _stored(url: str) -> dict[int, tuple[str, str]]:
    """parameters.i -> (job_id, status) for every stored job."""
    app = Conveyor(url)
    try:
        found: dict[int, tuple[str, str]] = {}
        cursor = None
        while True:
            page = app.list(limit=1000, cursor=cursor)
            found.update({int(j.parameters["i"]): (j.job_id, j.status.value) for j in page.jobs})
            cursor = page.next_cursor
            if cursor is None:
                return found
    finally:
        app.close()


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall())
    except sqlite3.DatabaseError as exc:
        return f"cannot check: {exc}"
    finally:
        conn.close()


def _one_line_error(done: subprocess.CompletedProcess[str] | None) -> tuple[bool, str]:
    if done is None:
        return False, "not run"
    lines = done.stderr.strip().splitlines()
    ok = done.returncode != 0 and len(lines) == 1 and lines[0].startswith("Error:")
    shown = lines[-1] if lines else f"exit {done.returncode}, no stderr"
    if "Traceback" in done.stderr:
        shown = f"TRACEBACK … {shown}"
    return ok, f"exit {done.returncode}: {shown}"


def _verify(disk: SmallDisk, url: str, acked_file: Path, seen: Observed) -> list[Row]:
    acked = {int(i): job_id for i, job_id in (line.split() for line in acked_file.read_text().splitlines())}
    stored = _stored(url)
    integrity = _integrity(disk.folder / "chaos.db")
    lost = [i for i, job_id in acked.items() if stored.get(i, ("", ""))[0] != job_id]
    phantom = [i for i in stored if i > 0 and i not in acked]
    full = seen.full
    still_ok = all(e is not None and e["conveyor_error"] for e in seen.still_full)
    cli_ok, cli_text = _one_line_error(seen.cli)
    api_status, api_body = seen.api_full
    api_code = api_body.get("error", {}).get("code") if isinstance(api_body, dict) else api_body
    return [
        info("jobs acknowledged before the disk filled", f"{full.get('acked', 0):,}"),
        Row("enqueue once full raises a ConveyorError (StoreError)", full.get("type", "?"), "ConveyorError",
            bool(full.get("conveyor_error"))),
        Row("… its message (one line)", full.get("message", "?"), "one line", "\n" not in full.get("message", "\n")),
        Row("3 more enqueues while full: each a ConveyorError", "yes" if still_ok else str(seen.still_full),
            "yes", still_ok),
        Row("40 MB enqueue_many while full (spills before COMMIT): a ConveyorError",
            seen.big_batch.get("message", "succeeded?!"), "ConveyorError", bool(seen.big_batch.get("conveyor_error"))),
        Row("`conveyor enqueue` while full: exit ≠ 0, one `Error:` line", cli_text, "yes", cli_ok),
        Row("POST /api/jobs/ while full", f"{api_status} {api_code}", "503", api_status == 503),
        Row("API server and worker still running after the errors",
            f"server {'up' if seen.server_survived else 'DIED'}, worker {'up' if seen.worker_survived else 'DIED'}",
            "both up", seen.server_survived and seen.worker_survived),
        Row("PRAGMA integrity_check", integrity, "ok", integrity == "ok"),
        check("lost: acknowledged jobs missing or changed", len(lost), 0),
        check("jobs stored although their enqueue failed", len(phantom), 0),
        Row("after freeing space: the same process enqueues again",
            f"{seen.after.get('ok', 0)} of 5 ok" + (f" ({seen.after['errors'][0]['message']})"
                                                    if seen.after.get("errors") else ""),
            "5 of 5", seen.after.get("ok") == 5),
        Row("after freeing space: POST /api/jobs/", str(seen.api_after[0]), "201", seen.api_after[0] == 201),
        Row("after freeing space: the worker completes every stored job",
            f"{sum(1 for _, s in stored.values() if s == 'completed'):,} of {len(stored):,}", "all",
            seen.drained and all(s == "completed" for _, s in stored.values())),
    ]
