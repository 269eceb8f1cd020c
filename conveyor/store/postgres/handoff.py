"""The hand-off on PostgreSQL: an enqueue gives its job straight to an idle worker parked for it.

Over the network a claim costs a round trip after the wake-up: on an idle machine, where each
hop also wakes a sleeping CPU, about 0.5 ms of the 2 ms from `enqueue()` to the handler's start.
An idle worker therefore leaves a ticket (`conveyor_parked`, migrations/0007), and an enqueue
that finds one writes its job already claimed by that worker (attempt 1, the worker's lease) in
the same statement, then NOTIFYs 'r:<worker_id> <job as JSON>': the worker starts the job from
the message alone (queries/job_insert_handoff.sql). The worker's side is worker/eager.py.

Only a plain new job is handed over — due now, no dependencies, batch or idempotency key, and a
payload that fits a NOTIFY — and never while fleet-wide limits exist or jobs wait in its queue.
"""

from __future__ import annotations

import json
from typing import Any

from ...job import ClaimedJob, JobId, NewJob, WorkerId
from ...status import JobStatus
from .database import Step

_loads = json.loads
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; the job's JSON text and the fixed
# fields (ids, numbers) must fit under it with room to spare.
MAX_PAYLOAD = 7000


def handoff_params(job: NewJob, insert: Step, channel: str) -> dict[str, Any] | None:
    """job_insert_handoff.sql's parameters — the plain INSERT's (`insert_step` of this one job,
    whose JSON text is already encoded) and the channel — or None if this job is not one to hand
    over."""
    _, params = insert
    if (params is None or job.status is not JobStatus.PENDING or job.depends_on or job.parent_id is not None
            or job.idempotency_key is not None):
        return None
    # ensure_ascii (json's default) keeps the JSON text's length in characters equal to its bytes
    size = len(params["parameters"]) + len(params["metadata"]) + len(job.job_type.encode()) + len(job.queue.encode())
    if size > MAX_PAYLOAD:
        return None
    return {**params, "channel": channel}


def handed_job(message: str, worker_id: WorkerId) -> ClaimedJob | None:
    """Decode a hand-off wake-up addressed to `worker_id` (None for anything else)."""
    prefix = f"r:{worker_id} "
    if not message.startswith(prefix):
        return None
    seq, job_id, job_type, queue, priority, parameters, attempt, max_attempts, timeout, metadata = _loads(
        message[len(prefix):]
    )
    return ClaimedJob(
        seq=seq, job_id=JobId(job_id), job_type=job_type, queue=queue, priority=priority,
        parameters=parameters, attempt=attempt, max_attempts=max_attempts, timeout=timeout,
        checkpoint=None, metadata=metadata, worker_id=worker_id,
    )
