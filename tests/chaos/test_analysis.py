"""The chaos checks can fail: `analyze` fed made-up runs with each kind of fault it must catch."""

from __future__ import annotations

from pathlib import Path

from chaos.drain import Execution, JobView, analyze, read_executions
from chaos.report import ScenarioReport, check

NOW = 1_000.0


def _done(job_id: str, run: Execution, attempt: int | None = None) -> JobView:
    results = {"pid": run.pid, "attempt": run.attempt, "token": run.token}
    return JobView(job_id, "completed", attempt if attempt is not None else run.attempt, results, None)


def _run(job_id: str, pid: int, attempt: int, at: float = 900.0) -> Execution:
    return Execution(job_id, pid, attempt, f"{job_id}-{pid}-{attempt}", at)


def test_a_clean_run_passes_every_check() -> None:
    runs = [_run("a", 1, 1), _run("b", 2, 1)]
    f = analyze(["a", "b"], {"a": _done("a", runs[0]), "b": _done("b", runs[1])}, runs, {}, NOW)
    assert (f.lost, f.stuck, f.extra_executions, f.result_bad, f.same_attempt_twice, f.superseded_live) == (
        0, [], 0, [], [], [])
    assert f.completed == 2


def test_jobs_not_completed_or_missing_are_lost_and_expired_running_ones_stuck() -> None:
    runs = [_run("a", 1, 1)]
    jobs = {"a": _done("a", runs[0]), "b": JobView("b", "running", 1, None, NOW - 5)}
    f = analyze(["a", "b", "c"], jobs, runs, {}, NOW)
    assert f.lost == 2
    assert dict(f.not_completed) == {"running": 1, "missing": 1}
    assert f.stuck == ["b"]


def test_a_rerun_after_a_kill_is_counted_and_timed() -> None:
    first, second = _run("a", 1, 1, at=900.0), _run("a", 2, 2, at=903.0)
    f = analyze(["a"], {"a": _done("a", second)}, [first, second], {1: 900.5}, NOW)
    assert (f.extra_executions, f.duplicated_jobs, f.superseded_dead, f.duplicated_bad) == (1, 1, 1, [])
    assert f.rescue_delays == [2.5]


def test_a_stored_result_from_a_superseded_attempt_is_caught() -> None:
    first, second = _run("a", 1, 1), _run("a", 2, 2)
    f = analyze(["a"], {"a": _done("a", first, attempt=2)}, [first, second], {1: 900.0}, NOW)
    assert len(f.duplicated_bad) == 1
    assert "attempt 1" in f.result_bad[0]


def test_a_result_no_execution_wrote_is_caught() -> None:
    run = _run("a", 1, 1)
    job = JobView("a", "completed", 1, {"pid": 1, "attempt": 1, "token": "forged"}, None)
    f = analyze(["a"], {"a": job}, [run], {}, NOW)
    assert f.result_bad == ["a: stored result matches 0 of 1 executions"]


def test_a_later_attempt_after_the_result_is_caught() -> None:
    first, second = _run("a", 1, 1), _run("a", 1, 2)
    f = analyze(["a"], {"a": _done("a", first)}, [first, second], {}, NOW)
    assert any("later attempt" in problem for problem in f.result_bad)


def test_one_attempt_run_twice_and_reruns_on_live_workers_are_caught() -> None:
    first, again = _run("a", 1, 1), Execution("a", 2, 1, "other", 901.0)
    f = analyze(["a"], {"a": _done("a", again)}, [first, again], {}, NOW)
    assert f.same_attempt_twice == ["a"]
    assert len(f.superseded_live) == 1


def test_malformed_and_foreign_execution_lines_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "executions.log"
    log.write_text("a 1 1 tok 900.0\ntruncated li\nzz 1 1 tok 900.0\n")
    records, bad = read_executions(log)
    assert bad == 1
    f = analyze(["a"], {"a": _done("a", records[0])}, records, {}, NOW)
    assert f.foreign_executions == 1


def test_rows_fail_when_their_limit_is_broken() -> None:
    assert check("lost", 0, 0).ok is True
    assert check("lost", 1, 0).ok is False
    assert check("dupes", 41, 40).ok is False
    assert check("kills", 0, 1, at_most=False).ok is False
    report = ScenarioReport("drain", "SQLite", "t", rows=[check("lost", 1, 0)])
    assert not report.ok
    assert report.verdict == "FAIL"


def test_jobs_quarantined_by_the_poison_rule_are_lost_and_counted() -> None:
    runs = [_run("a", 1, 1), _run("a", 2, 2), _run("a", 3, 3)]
    job = JobView("a", "failed", 3, None, None, "WORKER_CRASHED")
    f = analyze(["a"], {"a": job}, runs, {1: 900.0, 2: 900.0, 3: 900.0}, NOW)
    assert (f.lost, f.quarantined, f.extra_executions) == (1, 1, 2)
