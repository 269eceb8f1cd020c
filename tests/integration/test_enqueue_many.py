"""`enqueue_many` on every store: runs of alike jobs take the one-statement path, anything else
the general one, and either way every job is stored as returned, in order, all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, InvalidJobOptions, InvalidParameters, JobStatus, UnknownJobType
from conveyor.app import JobSpec
from conveyor.examples import register_examples
from tests.postgres_helpers import STORES, store_url_for


@pytest.fixture(params=STORES)
def app(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Conveyor]:
    with store_url_for(request.param, sqlite_url, "many") as url:
        app = register_examples(Conveyor(url))
        app.open()
        yield app
        app.close()


def _stored_in_order(app: Conveyor, returned: list[Any]) -> None:
    stored = [app.get(job.job_id) for job in returned]
    assert [s.to_dict() for s in stored] == [r.to_dict() for r in returned]
    seqs = [int(s.cursor) for s in stored]
    assert seqs == sorted(seqs), "stored out of submission order"


def test_mixed_items_are_stored_as_returned_in_order(app: Conveyor) -> None:
    shared = {"priority": 8, "queue": "bulk", "metadata": {"tenant": "acme"}}
    items: list[Any] = [
        ("echo", {"i": 0}), ("echo", {"i": 1}),              # a run of 2-tuples
        ("echo", {"i": 2}, shared), ("echo", {"i": 3}, shared),  # a run sharing one options object
        ("sleep", {"seconds": 0}),                            # another type
        JobSpec("echo", {"i": 5}, {"delay": 60}),              # a JobSpec: the general path
        ("echo", {"i": 6}, {"idempotency_key": "k-6"}),        # a key: the general path
        ("echo", None),                                       # no parameters
    ]
    jobs = app.enqueue_many(items)
    assert len(jobs) == len(items)
    _stored_in_order(app, jobs)
    assert [j.parameters for j in jobs][:4] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}]
    assert (jobs[2].priority, jobs[2].queue, jobs[2].metadata) == (8, "bulk", {"tenant": "acme"})
    assert jobs[5].status is JobStatus.SCHEDULED and jobs[7].parameters == {}
    assert app.enqueue("echo", {"i": 6}, idempotency_key="k-6").job_id == jobs[6].job_id


def test_runs_alone_take_the_fast_path_and_keep_everything(app: Conveyor) -> None:
    delayed = {"delay": 30, "max_attempts": 9, "timeout": 4.5}
    items = [("echo", {"i": i}) for i in range(500)] + [("echo", {"i": i}, delayed) for i in range(500, 700)]
    jobs = app.enqueue_many(iter(items))  # any iterable
    assert app._runs(items, app.clock.now()) is not None  # the path under test
    _stored_in_order(app, jobs)
    assert len({j.job_id for j in jobs}) == 700
    assert {j.status for j in jobs[:500]} == {JobStatus.PENDING}
    assert {(j.status, j.max_attempts, j.timeout) for j in jobs[500:]} == {(JobStatus.SCHEDULED, 9, 4.5)}
    assert app.stats()["total_jobs"] == 700
    assert app.enqueue_many([]) == []


@pytest.mark.parametrize(
    ("bad", "error", "index"),
    [
        (("sleep", {"seconds": "x"}), InvalidParameters, 3),   # inside a run: validated per item
        (("echo", [1, 2]), InvalidParameters, 3),               # not an object
        (("nope", {}), UnknownJobType, 3),
        (("echo", {}, {"priority": 99}), InvalidJobOptions, 3),
    ],
)
def test_one_bad_item_rejects_the_call(app: Conveyor, bad: tuple[Any, ...], error: type[Exception], index: int) -> None:
    items: list[Any] = [("sleep", {"seconds": 0})] * 3 + [bad] + [("echo", {})] * 3
    with pytest.raises(error, match=rf"jobs\[{index}\]"):
        app.enqueue_many(items)
    assert app.stats()["total_jobs"] == 0
