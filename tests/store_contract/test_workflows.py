"""Contract: dependencies, batches, periodic schedules and fleet-wide limits — the graph rules that
each store keeps in its own triggers (SQLite and PL/pgSQL) must give the same states, errors,
counters and results; and they must hold when several store clients act at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.errors import InvalidJobOptions
from conveyor.job import ClaimedJob, JobId, NewJob
from conveyor.outcome import Transition
from conveyor.status import JobStatus
from conveyor.store import Store
from conveyor.store.params import (
    BatchInsert,
    JobCancel,
    JobGet,
    JobInsert,
    JobList,
    JobRetry,
    LimitDelete,
    LimitPause,
    LimitSet,
    PeriodicFire,
    PeriodicUpsert,
)
from tests.store_contract.conftest import NOW, Backend, claim, finish, get, insert, new_job
from tests.store_contract.test_wakeup import collect

FAILED = {"code": "BOOM", "message": "it broke", "details": {}}


def waiting(*deps: NewJob, **overrides: Any) -> NewJob:
    return new_job(status=JobStatus.WAITING, depends_on=tuple(d.job_id for d in deps), **overrides)


def run(store: Store, job: NewJob, status: JobStatus = JobStatus.COMPLETED, now: float = NOW + 1,
        results: Any = None, worker: str = "w1") -> ClaimedJob:
    """Claim `job` (it must be due) and finish it with `status`."""
    claimed = {c.job_id: c for c in claim(store, worker=worker, limit=100, now=now).jobs}
    assert job.job_id in claimed, f"{job.job_id} was not claimable"
    c = claimed.pop(job.job_id)
    for other in claimed.values():  # put back what we did not mean to run
        finish(store, Transition(other, JobStatus.PENDING, release=True, run_at=NOW), now=now)
    error = None if status is JobStatus.COMPLETED else FAILED
    results = results if results is not None else {"from": job.job_id}
    assert finish(store, Transition(c, status, results=results, error=error), now=now) == [c.job_id]
    return c


def status_of(store: Store, job: NewJob) -> JobStatus:
    return get(store, job.job_id).status


# -- dependencies --------------------------------------------------------------------------------


def test_a_dependent_waits_for_every_dependency_then_sees_their_results(store: Store) -> None:
    a, b = new_job(), new_job()
    c = waiting(a, b)
    insert(store, a, b, c)
    run(store, a)
    assert status_of(store, c) is JobStatus.WAITING
    run(store, b)
    assert status_of(store, c) is JobStatus.PENDING
    [claimed] = claim(store, now=NOW + 2).jobs
    assert claimed.job_id == c.job_id and claimed.depends_on == (a.job_id, b.job_id)
    results = store.job_dependency_results(JobGet(c.job_id))
    assert results == {a.job_id: {"from": a.job_id}, b.job_id: {"from": b.job_id}}
    assert store.job_dependency_results(JobGet(a.job_id)) == {}



@pytest.mark.parametrize("order", ["first-to-last", "last-to-first", "middle-out"])
def test_a_fan_in_is_released_by_its_last_dependency_in_any_order(store: Store, order: str) -> None:
    """Edges remember completed dependencies (migration 0006) only to shorten the release check;
    the dependent must still wait for the very last one, whatever the order they finish in."""
    deps = [new_job(parameters={"i": i}) for i in range(30)]
    fan_in = waiting(*deps)
    insert(store, *deps, fan_in)
    ordered = {"first-to-last": deps, "last-to-first": deps[::-1], "middle-out": deps[15:] + deps[:15]}[order]
    batch = claim(store, limit=100, now=NOW + 1).jobs
    by_id = {c.job_id: c for c in batch}
    for dep in ordered[:-1]:
        finish(store, Transition(by_id[dep.job_id], JobStatus.COMPLETED, results=dep.parameters), now=NOW + 1)
        assert status_of(store, fan_in) is JobStatus.WAITING
    last = ordered[-1]
    finish(store, Transition(by_id[last.job_id], JobStatus.COMPLETED, results=last.parameters), now=NOW + 1)
    assert status_of(store, fan_in) is JobStatus.PENDING
    assert len(store.job_dependency_results(JobGet(fan_in.job_id))) == 30

def test_an_unknown_dependency_refuses_the_whole_insert(store: Store) -> None:
    a = new_job()
    insert(store, a)
    good, bad = waiting(a), new_job(status=JobStatus.WAITING, depends_on=(a.job_id, JobId("no-such-job")))
    with pytest.raises(InvalidJobOptions) as raised:
        insert(store, good, bad)
    assert raised.value.field == "depends_on" and "no-such-job" in str(raised.value)
    assert store.job_get(JobGet(good.job_id)) is None and store.job_get(JobGet(bad.job_id)) is None
    assert [j.job_id for j in store.job_list(JobList()).jobs] == [a.job_id]


def test_new_dependents_settle_at_once_on_finished_dependencies(store: Store) -> None:
    done, broken = new_job(), new_job()
    insert(store, done, broken)
    run(store, done)
    run(store, broken, JobStatus.FAILED)
    now_due, later, cancelled = waiting(done), waiting(done, run_at=NOW + 3600), waiting(done, broken)
    anyway = waiting(broken, on_dependency_failure="run")
    results = dict((job.job_id, job) for job, _ in insert(store, now_due, later, cancelled, anyway))
    assert results[now_due.job_id].status is JobStatus.PENDING
    assert results[later.job_id].status is JobStatus.SCHEDULED
    assert results[anyway.job_id].status is JobStatus.PENDING
    gone = results[cancelled.job_id]
    assert gone.status is JobStatus.CANCELLED and gone.error is not None
    assert gone.error["code"] == "DEPENDENCY_FAILED"
    assert gone.error["details"] == {"dependency_id": broken.job_id, "dependency_status": "failed"}
    assert gone.error["message"] == f"dependency {broken.job_id} (task) failed"
    assert gone.finished_at_ts == NOW


def test_a_failure_cancels_dependents_recursively_and_a_retry_revives_them(store: Store) -> None:
    a = new_job()
    b = waiting(a)
    c = waiting(b)
    insert(store, a, b, c)
    run(store, a, JobStatus.FAILED, now=NOW + 5)
    jb, jc = get(store, b.job_id), get(store, c.job_id)
    assert jb.status is JobStatus.CANCELLED and jc.status is JobStatus.CANCELLED
    assert jb.error is not None and jb.error["details"]["dependency_id"] == a.job_id
    assert jc.error is not None and jc.error["details"] == {"dependency_id": b.job_id, "dependency_status": "cancelled"}
    assert jb.finished_at_ts == NOW + 5 and jc.finished_at_ts == NOW + 5
    revived = store.job_retry(JobRetry(a.job_id, NOW + 6))
    assert revived is not None and revived.status is JobStatus.PENDING
    for job in (b, c):
        again = get(store, job.job_id)
        assert again.status is JobStatus.WAITING and again.error is None and again.finished_at_ts is None
    run(store, a, now=NOW + 7)
    assert status_of(store, b) is JobStatus.PENDING and status_of(store, c) is JobStatus.WAITING


def test_cancelling_a_dependency_cancels_dependents_unless_they_run_anyway(store: Store) -> None:
    a, other = new_job(run_at=NOW + 60), new_job()
    strict, lenient = waiting(a), waiting(a, other, on_dependency_failure="run")
    insert(store, a, other, strict, lenient)
    store.job_cancel(JobCancel(a.job_id, NOW + 1, "not needed"))
    assert status_of(store, strict) is JobStatus.CANCELLED
    assert status_of(store, lenient) is JobStatus.WAITING  # `other` has not finished yet
    run(store, other, now=NOW + 2)
    assert status_of(store, lenient) is JobStatus.PENDING


def test_a_finished_dependency_wakes_the_workers(store: Store) -> None:
    a = new_job()
    b = waiting(a)
    insert(store, a, b)
    listener = store.wakeup.listen()
    try:
        run(store, a)
        assert "j:*" in collect(listener, 1)
    finally:
        listener.close()


# -- batches and workflows -------------------------------------------------------------------------


def batch(store: Store, n: int, max_concurrency: int | None = None, fail_on_child_failure: bool = False,
          **child: Any) -> tuple[NewJob, list[NewJob]]:
    parent = new_job(status=JobStatus.WAITING, job_type="conveyor.batch")
    children = [
        new_job(parent_id=parent.job_id, priority=5, parameters={"i": i},
                **({"status": JobStatus.WAITING, "held": True}
                   if max_concurrency is not None and i >= max_concurrency else {}), **child)
        for i in range(n)
    ]
    b = BatchInsert(parent.job_id, n, max_concurrency, fail_on_child_failure)
    store.job_insert(JobInsert((parent, *children), (b,)))
    return parent, children


def test_a_batch_releases_held_children_counts_them_and_completes_its_parent(store: Store) -> None:
    parent, kids = batch(store, 3, max_concurrency=1)
    [c0] = claim(store, limit=10).jobs
    assert c0.job_id == kids[0].job_id
    assert [status_of(store, k) for k in kids[1:]] == [JobStatus.WAITING, JobStatus.WAITING]
    finish(store, Transition(c0, JobStatus.COMPLETED, results=0), now=NOW + 10)
    released = get(store, kids[1].job_id)
    assert released.status is JobStatus.PENDING and released.run_at_ts == NOW + 10
    p = get(store, parent.job_id)
    assert p.status is JobStatus.WAITING
    assert p.progress == {"step": "children", "percent": 33.3, "message": "1 of 3 finished"}
    run(store, kids[1], JobStatus.FAILED, now=NOW + 11)
    run(store, kids[2], now=NOW + 12)
    p = get(store, parent.job_id)
    assert p.status is JobStatus.COMPLETED and p.finished_at_ts == NOW + 12 and p.error is None
    assert p.results == {"total": 3, "completed": 2, "failed": 1, "cancelled": 0,
                         "child_ids": [k.job_id for k in kids]}
    assert p.progress == {"step": "children", "percent": 100, "message": "3 of 3 finished"}


def test_a_big_batch_writes_its_parents_progress_when_the_shown_percent_moves(store: Store) -> None:
    """Each child of 3,000 is 0.033%: the parent's progress changes at the 2nd and 5th child (0.1%,
    0.2%), not in between, and the last child still completes it with 100%."""
    parent, _ = batch(store, 3000)
    seen = []
    for _ in range(5):
        [c] = claim(store, limit=1).jobs
        finish(store, Transition(c, JobStatus.COMPLETED, results=0))
        seen.append(get(store, parent.job_id).progress)
    assert [p and p["message"] for p in seen] == [None, *["2 of 3000 finished"] * 3, "5 of 3000 finished"]
    assert seen[-1] == {"step": "children", "percent": 0.2, "message": "5 of 3000 finished"}
    rest = claim(store, limit=3000).jobs
    finish(store, *[Transition(c, JobStatus.COMPLETED, results=0) for c in rest])
    done = get(store, parent.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.progress == {"step": "children", "percent": 100, "message": "3000 of 3000 finished"}


def test_held_children_are_released_by_priority_passing_over_cancelled_ones(store: Store) -> None:
    parent = new_job(status=JobStatus.WAITING, job_type="conveyor.batch")
    first = new_job(parent_id=parent.job_id, priority=5)
    held = [new_job(parent_id=parent.job_id, priority=p, status=JobStatus.WAITING, held=True) for p in (3, 9, 3, 9)]
    store.job_insert(JobInsert((parent, first, *held), (BatchInsert(parent.job_id, 5, 1),)))
    store.job_cancel(JobCancel(held[1].job_id, NOW, "not this one"))  # still held: frees no slot
    [c] = claim(store, limit=10).jobs  # max_concurrency 1 still holds
    assert c.job_id == first.job_id
    store.job_cancel(JobCancel(first.job_id, NOW, "start over"))  # a running child frees its slot
    order = []
    for now in range(1, 4):
        [c] = claim(store, limit=10, now=NOW + now).jobs
        order.append(c.job_id)
        finish(store, Transition(c, JobStatus.COMPLETED, results=now), now=NOW + now)
    assert order == [held[3].job_id, held[0].job_id, held[2].job_id]
    p = get(store, parent.job_id)
    assert p.status is JobStatus.COMPLETED and p.results is not None
    assert (p.results["completed"], p.results["cancelled"]) == (3, 2)


def test_a_workflow_parent_fails_when_a_step_fails_and_reopens_on_retry(store: Store) -> None:
    parent, (a, b) = batch(store, 2, fail_on_child_failure=True)
    run(store, a)
    run(store, b, JobStatus.FAILED, now=NOW + 3)
    p = get(store, parent.job_id)
    assert p.status is JobStatus.FAILED and p.finished_at_ts == NOW + 3
    assert p.error == {"code": "WORKFLOW_FAILED", "message": "1 step(s) failed, 0 cancelled",
                       "details": {"failed": 1, "cancelled": 0}}
    assert p.results == {"total": 2, "completed": 1, "failed": 1, "cancelled": 0, "child_ids": [a.job_id, b.job_id]}
    store.job_retry(JobRetry(b.job_id, NOW + 4))
    p = get(store, parent.job_id)
    assert p.status is JobStatus.WAITING and p.results is None and p.error is None and p.finished_at_ts is None
    run(store, b, now=NOW + 5)
    p = get(store, parent.job_id)
    assert p.status is JobStatus.COMPLETED and p.results is not None and p.results["completed"] == 2
    assert p.results["failed"] == 0


def test_a_workflow_step_failure_cascades_into_the_parent(store: Store) -> None:
    parent = new_job(status=JobStatus.WAITING, job_type="conveyor.workflow")
    a = new_job(parent_id=parent.job_id)
    b = waiting(a, parent_id=parent.job_id)
    c = waiting(b, parent_id=parent.job_id)
    store.job_insert(JobInsert((parent, a, b, c), (BatchInsert(parent.job_id, 3, None, True),)))
    run(store, a, JobStatus.FAILED, now=NOW + 2)
    p = get(store, parent.job_id)
    assert p.status is JobStatus.FAILED and p.error is not None
    assert p.error["message"] == "1 step(s) failed, 2 cancelled"
    assert p.results is not None and (p.results["failed"], p.results["cancelled"]) == (1, 2)
    store.job_retry(JobRetry(a.job_id, NOW + 3))
    assert status_of(store, parent) is JobStatus.WAITING
    assert [status_of(store, j) for j in (b, c)] == [JobStatus.WAITING, JobStatus.WAITING]
    run(store, a, now=NOW + 4)
    run(store, b, now=NOW + 5)
    run(store, c, now=NOW + 6)
    p = get(store, parent.job_id)
    assert p.status is JobStatus.COMPLETED and p.results is not None
    assert (p.results["completed"], p.results["failed"], p.results["cancelled"]) == (3, 0, 0)


def test_cancelling_a_batch_cancels_its_unfinished_children(store: Store) -> None:
    parent, kids = batch(store, 4, max_concurrency=2)
    run(store, kids[0], now=NOW + 1)  # releases kids[2]
    running = claim(store, limit=1, now=NOW + 2).jobs
    assert len(running) == 1
    listener = store.wakeup.listen()
    try:
        cancelled = store.job_cancel(JobCancel(parent.job_id, NOW + 3, "stop"))
        assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
        assert set(collect(listener, 2)) >= {"c:*", "j:*"}
    finally:
        listener.close()
    assert status_of(store, kids[0]) is JobStatus.COMPLETED
    for kid in kids[1:]:
        job = get(store, kid.job_id)
        assert job.status is JobStatus.CANCELLED and job.results is None and job.finished_at_ts == NOW + 3
        assert job.error == {"code": "CANCELLED", "message": f"parent {parent.job_id} was cancelled",
                             "details": {"parent_id": parent.job_id}}
    p = get(store, parent.job_id)
    assert p.status is JobStatus.CANCELLED and p.results is None
    assert p.progress == {"step": "children", "percent": 100, "message": "4 of 4 finished"}


# -- periodic schedules ----------------------------------------------------------------------------


def test_periodic_upsert_list_and_fire_exactly_once_per_tick(store: Store) -> None:
    def upsert(schedule: str, next_run_at: float) -> None:
        store.periodic_upsert(PeriodicUpsert("hourly", schedule, "tick", {"a": 1}, {"queue": "q"}, "latest",
                                             next_run_at))

    upsert("0 * * * *", NOW + 3600)
    upsert("0 * * * *", NOW + 7200)  # same schedule (a restart): keeps its next run
    [row] = store.periodic_list()
    assert (row.name, row.schedule, row.job_type, row.parameters, row.options, row.missed) == (
        "hourly", "0 * * * *", "tick", {"a": 1}, {"queue": "q"}, "latest")
    assert (row.next_run_at, row.last_run_at, row.last_job_id) == (NOW + 3600, None, None)
    job = new_job(job_type="tick")
    fired = store.periodic_fire(PeriodicFire("hourly", NOW + 3600, NOW + 7200, NOW + 3600, (job,)))
    assert fired is not None and [j.job_id for j in fired] == [job.job_id]
    again = store.periodic_fire(PeriodicFire("hourly", NOW + 3600, NOW + 7200, NOW + 3600, (new_job(),)))
    assert again is None  # another process already fired this tick
    [row] = store.periodic_list()
    assert (row.next_run_at, row.last_run_at, row.last_job_id) == (NOW + 7200, NOW + 3600, job.job_id)
    assert len(store.job_list(JobList()).jobs) == 1
    upsert("*/5 * * * *", NOW + 300)  # a changed schedule starts over
    assert store.periodic_list()[0].next_run_at == NOW + 300


# -- fleet-wide limits -----------------------------------------------------------------------------


def test_concurrency_limit_pause_and_delete(store: Store) -> None:
    insert(store, *[new_job(job_type="gpu") for _ in range(3)], *[new_job(job_type="cpu") for _ in range(2)])
    fast = claim(store, limit=0)
    assert fast.limited is False
    store.limit_set(LimitSet("job_type", "gpu", NOW, max_running=1))
    first = claim(store, limit=10)
    assert first.limited is True
    assert sorted(c.job_type for c in first.jobs) == ["cpu", "cpu", "gpu"]
    assert claim(store, worker="w2", limit=10).jobs == []
    gpu = next(c for c in first.jobs if c.job_type == "gpu")
    finish(store, Transition(gpu, JobStatus.COMPLETED, results=1))
    assert [c.job_type for c in claim(store, worker="w2", limit=10).jobs] == ["gpu"]
    store.limit_pause(LimitPause("queue", "default", True, NOW))
    [gpu_limit, queue_limit] = sorted(store.limit_list(), key=lambda lim: lim.scope)
    assert (gpu_limit.scope, gpu_limit.key, gpu_limit.max_running, gpu_limit.paused) == ("job_type", "gpu", 1, False)
    assert (queue_limit.scope, queue_limit.key, queue_limit.paused) == ("queue", "default", True)
    store.limit_delete(LimitDelete("job_type", "gpu"))
    assert claim(store, worker="w3", limit=10).jobs == []  # the queue is paused
    store.limit_pause(LimitPause("queue", "default", False, NOW))
    store.limit_delete(LimitDelete("queue", "default"))
    assert store.limit_list() == []
    last = claim(store, worker="w3", limit=10)
    assert [c.job_type for c in last.jobs] == ["gpu"] and last.limited is False


def test_rate_limit_hands_out_tokens_over_time(store: Store) -> None:
    insert(store, *[new_job(queue="api") for _ in range(5)])
    store.limit_set(LimitSet("queue", "api", NOW, rate=(20, 1.0)))  # burst of 2, one token per 50 ms
    got = claim(store, limit=10, now=NOW)
    assert len(got.jobs) == 2 and got.next_check_at == pytest.approx(NOW + 0.05)
    assert claim(store, limit=10, now=NOW + 0.01).jobs == []
    assert len(claim(store, limit=10, now=NOW + 0.06).jobs) == 1


# -- several clients at once -----------------------------------------------------------------------


def race(n: int, action: Callable[[int], object]) -> None:
    """Run `action(i)` for i in range(n) in threads released together; re-raise the first error."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            barrier.wait(10)
            action(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]


def test_concurrent_limited_claimers_never_share_the_last_slot(backend: Backend) -> None:
    store = backend.open()
    store.limit_set(LimitSet("job_type", "gpu", NOW, max_running=1))
    stores = [backend.open(migrate=False) for _ in range(4)]
    for round_ in range(5):
        insert(store, *[new_job(job_type="gpu") for _ in range(4)])
        claimed: list[list[ClaimedJob]] = [[] for _ in stores]
        race(len(stores), lambda i, out=claimed: out[i].extend(claim(stores[i], worker=f"w{i}", limit=4).jobs))
        taken = [c for batch_ in claimed for c in batch_]
        assert len(taken) == 1, f"round {round_}: {len(taken)} jobs running under a limit of 1"
        finish(store, Transition(taken[0], JobStatus.COMPLETED, results=1))
        for job in store.job_list(JobList(status=JobStatus.PENDING)).jobs:
            store.job_cancel(JobCancel(job.job_id, NOW))


def test_dependencies_finishing_concurrently_release_their_dependent(backend: Backend) -> None:
    store = backend.open()
    stores = [backend.open(migrate=False) for _ in range(2)]
    for _ in range(10):
        a, b = new_job(), new_job()
        d = waiting(a, b)
        insert(store, a, b, d)
        claimed = {c.job_id: c for c in claim(store, limit=10).jobs}
        tokens = [claimed[a.job_id], claimed[b.job_id]]
        race(2, lambda i, t=tokens: finish(stores[i], Transition(t[i], JobStatus.COMPLETED, results=i)))
        assert status_of(store, d) is JobStatus.PENDING
        [cd] = claim(store, limit=10).jobs
        finish(store, Transition(cd, JobStatus.COMPLETED, results=1))


def test_a_dependent_enqueued_while_its_dependency_finishes_is_released(backend: Backend) -> None:
    store = backend.open()
    stores = [backend.open(migrate=False) for _ in range(2)]
    for _ in range(10):
        a = new_job()
        insert(store, a)
        [ca] = claim(store, limit=10).jobs
        d = waiting(a)

        def act(i: int, ca: ClaimedJob = ca, d: NewJob = d) -> None:
            if i == 0:
                finish(stores[0], Transition(ca, JobStatus.COMPLETED, results=1))
            else:
                insert(stores[1], d)

        race(2, act)
        assert status_of(store, d) is JobStatus.PENDING
        [cd] = claim(store, limit=10).jobs
        finish(store, Transition(cd, JobStatus.COMPLETED, results=1))
