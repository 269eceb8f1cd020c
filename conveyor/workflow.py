"""Composition: `chain(...)` runs steps in order, `group(...)` runs them side by side; nest freely.

A workflow is enqueued atomically as one parent job (type `conveyor.workflow`) whose children are
the steps, each depending on the steps before it. The parent's progress is the fraction of steps
finished; it completes when every step completed, and fails if a step failed or was cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .app import JobSpec
from .job import Job, JobId, NewJob
from .status import JobStatus

if TYPE_CHECKING:
    from .app import Conveyor

WORKFLOW_TYPE = "conveyor.workflow"
BATCH_TYPE = "conveyor.batch"


@dataclass(frozen=True, slots=True)
class Chain:
    steps: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Group:
    members: tuple[Node, ...]


Node = JobSpec | Chain | Group


def step(job_type: str, parameters: dict[str, Any] | None = None, **options: Any) -> JobSpec:
    """One step: a job type, its parameters and the usual enqueue options."""
    return JobSpec(job_type, parameters or {}, options)


def chain(*steps: Node) -> Chain:
    if not steps:
        raise ValueError("chain() needs at least one step")
    return Chain(tuple(steps))


def group(*members: Node) -> Group:
    if not members:
        raise ValueError("group() needs at least one member")
    return Group(tuple(members))


Build = Callable[[JobSpec, tuple[JobId, ...]], NewJob]


def flatten(node: Node, after: tuple[JobId, ...], build: Build, out: list[NewJob]) -> tuple[JobId, ...]:
    """Append the node's jobs to `out`, each depending on `after`; return the node's last jobs."""
    if isinstance(node, JobSpec):
        job = build(node, after)
        out.append(job)
        return (job.job_id,)
    if isinstance(node, Chain):
        tails = after
        for child in node.steps:
            tails = flatten(child, tails, build, out)
        return tails
    if isinstance(node, Group):
        ends: list[JobId] = []
        for member in node.members:
            ends.extend(flatten(member, after, build, out))
        return tuple(ends)
    raise TypeError(f"not a workflow step: {node!r} (use step(), chain() or group())")


@dataclass(frozen=True)
class WorkflowHandle:
    """What `enqueue_workflow` returns: the parent job and the ids of every step."""

    app: Conveyor
    job_id: JobId
    step_ids: tuple[JobId, ...]
    tail_ids: tuple[JobId, ...]

    def job(self) -> Job:
        return self.app.get(self.job_id)

    @property
    def status(self) -> JobStatus:
        return self.job().status

    @property
    def progress(self) -> dict[str, Any] | None:
        return self.job().progress

    def steps(self) -> list[Job]:
        return [self.app.get(job_id) for job_id in self.step_ids]

    def result(self) -> Any:
        """The last step's result (a dict by job id when the workflow ends in a group)."""
        results = {job_id: self.app.get(job_id).results for job_id in self.tail_ids}
        return results[self.tail_ids[0]] if len(self.tail_ids) == 1 else results

    def wait(self, timeout: float = 60.0) -> Job:
        return self.app.wait(self.job_id, timeout=timeout)

    def cancel(self) -> Job:
        return self.app.cancel(self.job_id)


def normalize(steps: Sequence[JobSpec | tuple[Any, ...]]) -> list[JobSpec]:
    return [s if isinstance(s, JobSpec) else JobSpec(*s) for s in steps]
