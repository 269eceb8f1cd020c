"""How one attempt ended, as typed values; `transition()` is the one place they become state changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .job import ClaimedJob
from .retry import RetryPolicy
from .status import JobStatus


@dataclass(frozen=True, slots=True)
class Completed:
    results: Any


@dataclass(frozen=True, slots=True)
class RetryRequested:
    """The handler raised `Retry`, or an error that may be retried."""

    error: dict[str, Any]
    delay: float | None = None  # None: the policy's backoff


@dataclass(frozen=True, slots=True)
class Failed:
    """No retry: `Fail`, a bad payload, an unserialisable result."""

    error: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The job was cancelled while running: its status is already `cancelled`, record nothing."""


@dataclass(frozen=True, slots=True)
class Released:
    """Shutdown interrupted the attempt: back to `pending` without burning the attempt."""


Outcome = Completed | RetryRequested | Failed | Cancelled | Released


@dataclass(frozen=True, slots=True)
class Transition:
    """A fenced write the completer applies: move `job` from running to `status`."""

    job: ClaimedJob
    status: JobStatus
    results: Any = None
    error: dict[str, Any] | None = None
    run_at: float | None = None
    release: bool = False


def transition(job: ClaimedJob, outcome: Outcome, policy: RetryPolicy, now: float) -> Transition | None:
    if isinstance(outcome, Completed):
        return Transition(job, JobStatus.COMPLETED, results=outcome.results)
    if isinstance(outcome, Failed):
        return Transition(job, JobStatus.FAILED, error=outcome.error)
    if isinstance(outcome, RetryRequested):
        if job.attempt >= job.max_attempts:
            return Transition(job, JobStatus.FAILED, error=outcome.error)
        delay = outcome.delay if outcome.delay is not None else policy.delay(job.attempt)
        status = JobStatus.SCHEDULED if delay > 0 else JobStatus.PENDING
        return Transition(job, status, error=outcome.error, run_at=now + delay)
    if isinstance(outcome, Released):
        return Transition(job, JobStatus.PENDING, run_at=now, release=True)
    return None  # Cancelled: the cancel already wrote the terminal state
