"""Acceptance 1: enqueue in one process, run in a `conveyor worker` process, read from a third."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .conftest import Cli, WorkerProcess, assert_one_line_error

GATE_APP = "tests.cli.gate_app:create_app"


def test_job_enqueued_by_cli_runs_in_worker_and_is_readable_from_another_process(
    cli: Cli, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    progress_id = cli.enqueue("progress", "--param", "steps=2", "--param", "step_seconds=0.05")
    echo_id = cli.enqueue(
        "echo", "--param", "n=1", "--param", "flag=true", "--param", "name=hello",
        "--param", "nothing=null", "--json", '{"n": 0, "nested": {"a": [1, 2]}}',
    )

    cli.wait_finished(progress_id)
    cli.wait_finished(echo_id)

    job = cli.json("status", progress_id)  # read back by a third process
    assert job["status"] == "completed", job
    assert job["results"] == {"steps": 2}
    assert job["progress"] == {"step": "done", "percent": 100, "message": "Finished"}
    assert job["attempt"] == 1
    assert job["started_at"] and job["finished_at"]
    assert [e["message"] for e in job["logs"]] == ["starting 2 steps", "all steps done"]

    echo = cli.json("status", echo_id)
    assert echo["results"] == {
        "echo": {"n": 1, "flag": True, "name": "hello", "nothing": None, "nested": {"a": [1, 2]}}
    }

    table = cli.ok("jobs").stdout
    for job_id in (progress_id, echo_id):
        assert re.search(rf"{job_id}.*completed", table), table
    listed = cli.json("jobs", "--status", "completed", "--type", "progress")
    assert [j["job_id"] for j in listed["jobs"]] == [progress_id]

    stats = cli.json("stats")
    assert stats["total_jobs"] == 2
    assert stats["by_status"]["completed"] == 2
    assert stats["by_type"]["progress"]["completed"] == 1
    assert stats["success_rate"] == 1.0
    stats_text = cli.ok("stats").stdout
    assert "By type" in stats_text and "progress" in stats_text and "100.0%" in stats_text

    logs = cli.ok("logs", progress_id).stdout.splitlines()
    assert len(logs) == 2 and "INFO" in logs[0] and logs[1].endswith("all steps done")

    summary = cli.ok("status", progress_id).stdout
    assert "completed" in summary and '{"steps": 2}' in summary and "1/3" in summary

    assert worker.stop() == 0, worker.log()


def test_status_follow_draws_progress_until_completed(
    cli: Cli, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    gated = Cli(cli.url, cli.cwd, app=GATE_APP)
    worker = start_worker(GATE_APP)
    gate_file = tmp_path / "gate-open"
    job_id = gated.enqueue("gate", "--param", f"path={gate_file}")

    follow = gated.start("status", job_id, "--follow")
    step_line = follow.wait_for("waiting_for_gate")  # the job sits at this step until the gate opens
    assert step_line == "running 50% waiting_for_gate Waiting for the test"
    gate_file.touch()
    code, out, err = follow.finish()
    assert code == 0, err
    assert "━" in out and "100%" in out  # the progress bar's final frame
    assert "Result    {\"opened\": true}" in out

    progress_id = cli.enqueue("progress", "--param", "steps=3", "--param", "step_seconds=0.1")
    result = cli.ok("status", progress_id, "--follow")
    assert "completed 100% done Finished" in result.stdout  # the example's last step, whenever we joined
    assert "all steps done" in result.stdout  # its log lines stream above the bar

    failing = cli.enqueue("fail", "--param", "message=boom")
    line = assert_one_line_error(cli.run("status", failing, "--follow"), exit_code=1)
    assert "failed" in line and "EXAMPLE_FAILURE: boom" in line

    first_end = cli.wait_finished(failing).finished_at_ts
    assert cli.ok("retry", "--all-failed", "--type", "fail").stdout.strip() == "1 failed job retried"
    again = cli.wait_until(failing, lambda job: job.status.is_terminal and job.finished_at_ts != first_end)
    assert (again.status.value, again.attempt) == ("failed", 1)
    assert worker.stop() == 0, worker.log()


def test_enqueue_options_and_admin_commands(cli: Cli) -> None:
    run_at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    job_id = cli.enqueue(
        "echo", "--priority", "9", "--queue", "reports", "--run-at", run_at.isoformat().replace("+00:00", "Z"),
        "--max-attempts", "7", "--timeout", "1.5m", "--idempotency-key", "report-1",
    )
    job = cli.json("status", job_id)
    assert (job["status"], job["priority"], job["queue"], job["max_attempts"]) == ("scheduled", 9, "reports", 7)
    assert datetime.fromisoformat(job["run_at"].replace("Z", "+00:00")) == run_at
    again = cli.ok("enqueue", "echo", "--idempotency-key", "report-1")
    assert again.stdout.strip() == job_id and "not enqueued again" in again.stderr

    delayed = cli.json("status", cli.enqueue("echo", "--delay", "1h30m"))
    created = datetime.fromisoformat(delayed["created_at"].replace("Z", "+00:00"))
    run = datetime.fromisoformat(delayed["run_at"].replace("Z", "+00:00"))
    assert abs((run - created).total_seconds() - 5400) < 1

    assert cli.ok("cancel", job_id).stdout.strip() == f"{job_id} cancelled"
    assert_one_line_error(cli.run("cancel", job_id), exit_code=1)
    assert cli.ok("retry", job_id).stdout.strip() == f"{job_id} pending"
    cli.ok("cancel", job_id)
    assert cli.ok("purge", "--older-than", "0").stdout.startswith("1 finished job purged")
    remaining = cli.json("jobs")
    assert [j["job_id"] for j in remaining["jobs"]] == [delayed["job_id"]]
    audit = cli.json("audit", "--actor", "cli")
    assert [e["action"] for e in audit] == ["jobs.purge", "job.cancel", "job.retry", "job.cancel"]
    assert_one_line_error(cli.run("status", job_id), exit_code=1)


def test_jobs_pages_with_cursor(cli: Cli) -> None:
    ids = [cli.enqueue("noop") for _ in range(3)]
    first = cli.json("jobs", "--limit", "2")
    assert [j["job_id"] for j in first["jobs"]] == ids[:0:-1]  # newest first
    assert first["next_cursor"]
    assert f"--cursor {first['next_cursor']}" in cli.ok("jobs", "--limit", "2").stdout
    second = cli.json("jobs", "--limit", "2", "--cursor", first["next_cursor"])
    assert [j["job_id"] for j in second["jobs"]] == ids[:1] and second["next_cursor"] is None
