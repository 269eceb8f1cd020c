"""Issue 2 acceptance 2–4 and 7, with real worker processes on a real SQLite file."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conveyor import Conveyor, JobStatus
from tests.apps.core_app import create_app
from tests.conftest import PYTHON, python_env
from tests.helpers import WorkerProcess, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def app(sqlite_url: str) -> Conveyor:
    application = create_app()
    application.configure(database_url=sqlite_url)
    yield application
    application.close()


def _status(app: Conveyor, job_id: str) -> JobStatus:
    return app.get(job_id).status


def test_enqueue_survives_kill9_of_the_enqueuing_process(sqlite_url: str) -> None:
    script = (
        "import os, signal, sys\n"
        "from tests.apps.core_app import create_app\n"
        "app = create_app(); app.configure(database_url=sys.argv[1])\n"
        "job = app.enqueue('record', {'n': 1})\n"
        "print(job.job_id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", script, sqlite_url], env=python_env(), capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == -signal.SIGKILL
    job_id = proc.stdout.strip().splitlines()[-1]
    app = Conveyor(sqlite_url)
    try:
        job = app.get(job_id)
        assert job.status is JobStatus.PENDING
        assert job.parameters == {"n": 1}
    finally:
        app.close()


def test_kill9_worker_mid_job_is_rescued_by_another(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    job = app.enqueue("slow", {"seconds": 60, "first_only": True})
    first = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
    try:
        wait_for(lambda: (markers / f"started-{job.job_id}").exists(), what="first attempt to start")
        assert _status(app, job.job_id) is JobStatus.RUNNING
        first.kill9()
    finally:
        first.stop()
    second = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
    try:
        done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, timeout=30, what="rescue")
    finally:
        second.stop()
    assert done.status is JobStatus.COMPLETED
    assert done.attempt == 2
    assert done.results["attempt"] == 2
    assert done.results["pid"] == second.pid
    assert app.stats()["by_status"]["running"] == 0
    assert any("lease expired" in entry.message for entry in app.logs(job.job_id))


def test_stale_worker_result_is_rejected(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    """A worker frozen past its lease (SIGSTOP) loses the job; when it wakes, its result is refused."""
    job = app.enqueue("slow", {"seconds": 2.5})
    stale = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
    fresh = None
    try:
        wait_for(lambda: (markers / f"started-{job.job_id}").exists(), what="first attempt to start")
        stale.signal(signal.SIGSTOP)
        fresh = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
        done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, timeout=30, what="rescue")
        assert done.results == {"attempt": 2, "pid": fresh.pid}
        stale.signal(signal.SIGCONT)
        # The stale worker's attempt-1 handler is still asleep; once it ends, its write must be fenced off.
        wait_for(lambda: "rejected" in stale.output() or "no longer ours" in stale.output(), timeout=15,
                 what="stale worker to notice it lost the job")
        again = app.get(job.job_id)
        assert again.results == {"attempt": 2, "pid": fresh.pid}
        assert again.attempt == 2
    finally:
        stale.signal(signal.SIGCONT)
        stale.stop()
        if fresh:
            fresh.stop()


def test_long_job_on_live_worker_is_never_rescued(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    job = app.enqueue("slow", {"seconds": 5})  # 5× the 1s lease
    workers = [WorkerProcess(sqlite_url, markers, "--lease-seconds", "1") for _ in range(2)]
    try:
        done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, timeout=30, what="completion")
    finally:
        for w in workers:
            w.stop()
    assert done.status is JobStatus.COMPLETED
    assert done.attempt == 1
    assert done.crashes == 0
    starts = (markers / f"started-{job.job_id}").read_text().splitlines()
    assert len(starts) == 1


def test_poison_job_is_quarantined_after_max_crashes(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    job = app.enqueue("suicide", {})
    # One supervised process: the supervisor restarts the worker each time the job kills it.
    supervisor = WorkerProcess(sqlite_url, markers, "--lease-seconds", "0.5", "--max-crashes", "3",
                               "--processes", "2")
    try:
        done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, timeout=60, what="quarantine")
    finally:
        supervisor.stop()
    assert done.status is JobStatus.FAILED
    assert done.error["code"] == "WORKER_CRASHED"
    assert done.crashes == 3
    assert len((markers / f"started-{job.job_id}").read_text().splitlines()) == 3


def test_checkpoint_resumes_on_next_attempt(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    job = app.enqueue("resumable", {})
    first = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
    try:
        wait_for(lambda: (markers / f"checkpointed-{job.job_id}").exists(), what="checkpoint")
        first.kill9()
    finally:
        first.stop()
    second = WorkerProcess(sqlite_url, markers, "--lease-seconds", "1")
    try:
        done = wait_for(lambda: (j := app.get(job.job_id)).status.is_terminal and j, timeout=30, what="resume")
    finally:
        second.stop()
    assert done.status is JobStatus.COMPLETED
    assert done.results == {"resumed_from": {"page": 7}, "attempt": 2}


def test_sigterm_finishes_or_releases_in_flight_jobs(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    short = [app.enqueue("slow", {"seconds": 0.5}).job_id for _ in range(3)]
    long = [app.enqueue("slow", {"seconds": 60}).job_id for _ in range(2)]
    long_sync = app.enqueue("sync_slow", {"seconds": 60}).job_id
    worker = WorkerProcess(sqlite_url, markers, "--shutdown-grace-seconds", "2", "--concurrency", "10")
    try:
        for job_id in [*short, *long, long_sync]:
            wait_for(lambda j=job_id: (markers / f"started-{j}").exists(), what=f"{job_id} to start")
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    finally:
        worker.stop()
    for job_id in short:
        job = app.get(job_id)
        assert job.status is JobStatus.COMPLETED
        assert job.attempt == 1
    for job_id in [*long, long_sync]:
        job = app.get(job_id)
        assert job.status is JobStatus.PENDING, job
        assert job.attempt == 0  # not burned
        assert job.started_at is None


def test_two_processes_run_5000_jobs_exactly_once(app: Conveyor, sqlite_url: str, markers: Path) -> None:
    jobs = app.enqueue_many([("record", {"i": i}) for i in range(5000)])
    worker = WorkerProcess(sqlite_url, markers, "--processes", "2", "--concurrency", "10")
    try:
        wait_for(lambda: app.stats()["by_status"]["completed"] == 5000, timeout=120, interval=0.2,
                 what="5000 completions")
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        worker.stop()
    lines = (markers / "executions.log").read_text().split()
    job_ids = lines[0::2]
    pids = lines[1::2]
    counts = Counter(job_ids)
    assert len(counts) == 5000
    assert set(counts) == {j.job_id for j in jobs}
    assert max(counts.values()) == 1
    assert len(set(pids)) == 2  # both processes did work
