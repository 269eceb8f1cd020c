"""Pure rules: backoff, outcome → transition, ids, JSON shape, settings precedence, public surface."""

from __future__ import annotations

from pathlib import Path

import pytest

import conveyor
from conveyor.errors import ConfigError
from conveyor.job import ClaimedJob, Job, JobId, NewJob, WorkerId, new_job_id
from conveyor.outcome import Cancelled, Completed, Failed, Released, RetryRequested, transition
from conveyor.retry import RetryPolicy
from conveyor.settings import Settings, load_settings
from conveyor.status import JobStatus


def claimed(attempt: int = 1, max_attempts: int = 3) -> ClaimedJob:
    return ClaimedJob(JobId("j"), "t", "default", 5, {}, attempt, max_attempts, None, None, WorkerId("w"), 1)


def test_backoff_is_full_jitter_under_a_growing_capped_ceiling() -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=60, rand=lambda: 1.0)
    assert [policy.delay(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert RetryPolicy(2, 60, rand=lambda: 0.0).delay(5) == 0
    real = RetryPolicy(1, 300)
    samples = [real.delay(4) for _ in range(2000)]
    assert all(0 <= s <= 8 for s in samples)
    assert 3 < sum(samples) / len(samples) < 5  # uniform over [0, 8]: mean 4


def test_transitions() -> None:
    policy = RetryPolicy(1, 10, rand=lambda: 0.5)
    assert transition(claimed(), Completed({"a": 1}), policy, 100).status is JobStatus.COMPLETED
    retry = transition(claimed(attempt=2), RetryRequested({"code": "X"}), policy, 100)
    assert retry is not None and retry.status is JobStatus.SCHEDULED and retry.run_at == 101.0
    immediate = transition(claimed(), RetryRequested({"code": "X"}, delay=0), policy, 100)
    assert immediate is not None and immediate.status is JobStatus.PENDING
    last = transition(claimed(attempt=3), RetryRequested({"code": "X"}), policy, 100)
    assert last is not None and last.status is JobStatus.FAILED and last.error == {"code": "X"}
    assert transition(claimed(), Failed({"code": "F"}), policy, 100).status is JobStatus.FAILED  # type: ignore[union-attr]
    released = transition(claimed(), Released(), policy, 100)
    assert released is not None and released.release and released.status is JobStatus.PENDING
    assert transition(claimed(), Cancelled(), policy, 100) is None


def test_job_ids_are_unique_and_time_ordered() -> None:
    ids = [new_job_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0][14] == "7"  # a version-7 UUID


def test_job_json_has_the_spec_fields() -> None:
    new = NewJob(JobId("j1"), "pdf", "documents", 5, {"filename": "a.pdf"}, JobStatus.PENDING, 0.0, 3, 3,
                 None, 0.0)
    body = Job.from_new(new).to_dict()
    assert list(body) == [
        "job_id", "job_type", "queue", "status", "priority", "parameters", "progress", "results", "error",
        "attempt", "max_attempts", "created_at", "run_at", "started_at", "finished_at", "parent_id",
        "depends_on", "idempotency_key", "metadata",
    ]
    assert body["created_at"] == "1970-01-01T00:00:00.000Z"
    assert body["status"] == "pending"


def test_settings_precedence(tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text('concurrency = 4\nlease_seconds = 12\nqueues = "a,b"\n')
    env = {"CONVEYOR_LEASE_SECONDS": "20", "CONVEYOR_MAX_CRASHES": "5"}
    s = load_settings({"max_crashes": 7}, env=env, cwd=tmp_path)
    assert (s.concurrency, s.lease_seconds, s.max_crashes, s.queues) == (4, 20.0, 7, ("a", "b"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_settings({}, env={}, cwd=empty).concurrency == 10
    (tmp_path / "pyproject.toml").write_text("[tool.conveyor]\nconcurrency = 3\n")
    (tmp_path / "conveyor.toml").unlink()
    assert load_settings({}, env={}, cwd=tmp_path).concurrency == 3


def test_bad_settings_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        load_settings({}, env={"CONVEYOR_CONCURRENCY": "many"}, cwd=tmp_path)
    (tmp_path / "conveyor.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings({}, env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="lease_seconds"):
        Settings().merged(lease_seconds=-1)


def test_public_surface_is_curated() -> None:
    for name in conveyor.__all__:
        assert hasattr(conveyor, name), name
    import types

    extra = {n for n in dir(conveyor) if not n.startswith("_")} - set(conveyor.__all__)
    # Anything else reachable is a submodule (imported by the package itself), never a stray name.
    assert all(isinstance(getattr(conveyor, n), types.ModuleType) for n in extra), extra
    assert {"Conveyor", "JobContext", "JobStatus", "Retry", "Fail", "Job"} <= set(conveyor.__all__)


def test_status_enum_values() -> None:
    assert [s.value for s in JobStatus] == [
        "waiting", "scheduled", "pending", "running", "completed", "failed", "cancelled",
    ]
    assert {s for s in JobStatus if s.is_terminal} == {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
