"""Contract: job_insert_runs — runs of jobs alike in all but id and parameters (enqueue_many's
hot path) are stored exactly as job_insert would store them, in order, in one transaction."""

from __future__ import annotations

import math

import pytest

from conveyor.job import Job, JobId, new_job_ids
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import JobRun, JobRunsInsert
from tests.store_contract.conftest import NOW, claim, get, insert, new_job

AWKWARD = [
    {},
    {"file": "ä.pdf", "emoji": "🚀", "nul": "a\u0000b", "quote": 'say "hi"\\n', "tab": "\t"},
    {"big": 2**70, "neg": -(2**63), "float": 0.1 + 0.2, "tiny": 5e-324, "exp": 1e300},
    {"nested": {"list": [1, 2.5, None, True, False, [], {}], "deep": [[[["x"]]]]}},
    {"keys": {"b": 1, "a": 2}},  # key order kept
]


def _run(template_overrides: dict[str, object], parameters: list[dict[str, object]]) -> JobRun:
    return JobRun(new_job(**template_overrides), new_job_ids(len(parameters)), parameters)


# A database's JSON functions unescape strings; \u0000 and surrogate escapes take a slower path.
PLAIN = [p for p in AWKWARD if "emoji" not in p] + [{"accent": "ä", "quote": '"', "backslash": "\\"}]


@pytest.mark.parametrize("parameters", [AWKWARD, PLAIN], ids=["with-escapes", "plain"])
def test_runs_store_every_field_like_job_insert(store: Store, parameters: list[dict[str, object]]) -> None:
    run = _run({"job_type": "pdf", "queue": "documents", "priority": 9, "max_attempts": 7, "max_crashes": 2,
                "timeout": 12.5, "created_at": NOW - 0.123456789, "metadata": {"tenant": "acme"},
                "webhook": {"url": "https://example.com/hook"}}, parameters)
    expected = store.job_insert_runs(JobRunsInsert((run,)))
    assert expected == Job.run_of(run.template, run.job_ids, run.parameters)  # what was written, returned
    for job_id, params, returned in zip(run.job_ids, run.parameters, expected, strict=True):
        stored = get(store, job_id)
        assert stored.parameters == params
        assert list(stored.parameters) == list(params)
        assert stored.to_dict() == returned.to_dict()
        assert (stored.max_crashes, stored.timeout, stored.webhook) == (2, 12.5, {"url": "https://example.com/hook"})
        assert (stored.created_at_ts, stored.run_at_ts) == (NOW - 0.123456789, NOW)  # exact floats


def test_run_of_matches_from_new_field_for_field(store: Store) -> None:
    template = new_job(metadata={"m": 1}, parameters={"p": 1}, webhook={"url": "https://example.com/h"})
    [built] = Job.run_of(template, [template.job_id], [template.parameters])
    assert built == Job.from_new(template)
    assert built.metadata is not template.metadata  # each job gets its own dict


def test_runs_keep_submission_order_across_runs(store: Store) -> None:
    first = _run({"job_type": "a"}, [{"i": i} for i in range(3)])
    second = _run({"job_type": "b"}, [{"i": i} for i in range(3, 5)])
    third = _run({"job_type": "a"}, [{"i": 5}])
    store.job_insert_runs(JobRunsInsert((first, second, third)))
    claimed = claim(store, limit=10).jobs
    assert [c.parameters["i"] for c in claimed] == list(range(6))  # FIFO = submission order
    assert [c.job_type for c in claimed] == ["a", "a", "a", "b", "b", "a"]


@pytest.mark.parametrize("escape_at", [None, 2_400], ids=["plain", "escape-in-a-late-chunk"])
def test_big_runs_are_written_whole_in_order(store: Store, escape_at: int | None) -> None:
    """Runs bigger than a statement's chunk (PostgreSQL sends 1,000 rows per statement, pipelined),
    including one whose late rows need the slower path: every job once, in order, exactly as given."""
    params: list[dict[str, object]] = [{"i": i} for i in range(2_500)]
    if escape_at is not None:
        params[escape_at] = {"i": escape_at, "nul": "a\u0000b"}
    first = _run({"job_type": "a"}, params)
    second = _run({"job_type": "b"}, [{"i": 2_500 + i} for i in range(1_200)])
    written = store.job_insert_runs(JobRunsInsert((first, second)))
    assert [j.job_id for j in written] == [*first.job_ids, *second.job_ids]
    claimed = claim(store, limit=5_000).jobs
    assert [c.parameters["i"] for c in claimed] == list(range(3_700))
    assert [c.job_id for c in claimed] == [j.job_id for j in written]
    if escape_at is not None:
        assert claimed[escape_at].parameters["nul"] == "a\u0000b"


def test_scheduled_run_waits_until_due(store: Store) -> None:
    run = _run({"run_at": NOW + 60}, [{"i": 1}, {"i": 2}])
    assert run.template.status is JobStatus.SCHEDULED
    store.job_insert_runs(JobRunsInsert((run,)))
    assert claim(store, now=NOW).jobs == []
    assert len(claim(store, now=NOW + 61).jobs) == 2


def test_a_failing_run_leaves_nothing(store: Store) -> None:
    existing = new_job()
    insert(store, existing)
    good = _run({}, [{"i": 1}])
    clash = JobRun(new_job(), [JobId(existing.job_id)], [{"i": 2}])  # duplicate job_id: refused
    with pytest.raises(Exception):  # noqa: B017 - each store raises its own integrity error
        store.job_insert_runs(JobRunsInsert((good, clash)))
    assert [c.job_id for c in claim(store, limit=10).jobs] == [existing.job_id]  # `good` rolled back


def test_non_json_numbers_still_round_trip(store: Store) -> None:
    """NaN and Infinity are not JSON to a database's JSON reader; Python's json writes them, so a
    run holding them must still be stored (as job_insert stores them)."""
    run = _run({}, [{"nan": math.nan, "inf": math.inf}])
    try:
        store.job_insert_runs(JobRunsInsert((run,)))
    except Exception as exc:
        # PostgreSQL's json type refuses NaN whatever the path: job_insert refuses it the same way.
        with pytest.raises(type(exc)):
            insert(store, new_job(parameters={"nan": math.nan}))
        return
    stored = get(store, run.job_ids[0]).parameters
    assert math.isnan(stored["nan"]) and stored["inf"] == math.inf
