"""Job routes (SPEC §5): submit, batch, get, list, cancel, retry, delete, purge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import Response

from ...apikeys import ApiKey
from ...status import JobStatus
from ..auth import ADMIN, READ, WRITE
from ..schemas import (
    BatchOut,
    BatchSubmit,
    Deleted,
    JobDetail,
    JobOut,
    JobPageOut,
    JobSubmit,
    Purged,
    PurgeRequest,
    Success,
)
from ..services import ApiServices
from .common import API_ERRORS, ok, services

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=API_ERRORS)
Svc = Annotated[ApiServices, Depends(services)]
JobIdPath = Annotated[str, Path(min_length=1, max_length=200)]
CURSOR = r"^[A-Za-z0-9_.:=-]{1,100}$"


@router.post("/", status_code=201, response_model=Success[JobOut], summary="Submit a job")
@router.post("", status_code=201, response_model=Success[JobOut], include_in_schema=False)
async def submit_job(
    body: JobSubmit,
    svc: Svc,
    key: ApiKey = WRITE,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> Response:
    """Enqueue one job; durable once this answers 201. A repeated `idempotency_key` (or
    `Idempotency-Key` header) of an unfinished job returns that job (`Idempotent-Replayed: true`)."""
    job, created = await svc.submit(body, idempotency_key)
    return ok(JobOut.of(job), 201, None if created else {"Idempotent-Replayed": "true"})


@router.post("/batch", status_code=201, response_model=Success[BatchOut], summary="Submit a batch")
async def submit_batch(body: BatchSubmit, svc: Svc, key: ApiKey = WRITE) -> Response:
    """One parent job (type `conveyor.batch`) whose children are the given jobs, in one transaction:
    all are stored or none. The parent's progress is the fraction of children finished; it completes
    when all are terminal, with results `{total, completed, failed, cancelled, child_ids}`;
    cancelling it cancels the unfinished children."""
    parent, children = await svc.submit_batch(body)
    return ok(BatchOut(parent=JobOut.of(parent), jobs=[JobOut.of(j) for j in children]), 201)


@router.get("", response_model=Success[JobPageOut], summary="List jobs")
@router.get("/", response_model=Success[JobPageOut], include_in_schema=False)
async def list_jobs(
    svc: Svc,
    key: ApiKey = READ,
    status: JobStatus | None = None,
    job_type: Annotated[str | None, Query(max_length=200)] = None,
    queue: Annotated[str | None, Query(max_length=200)] = None,
    parent_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(pattern=CURSOR)] = None,
) -> Response:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = await svc.list_jobs(
        status=status, job_type=job_type, queue=queue, parent_id=parent_id, limit=limit, cursor=cursor
    )
    return ok(JobPageOut(jobs=[JobOut.of(j) for j in page.jobs], next_cursor=page.next_cursor))


@router.post("/purge", response_model=Success[Purged], summary="Delete old finished jobs")
async def purge_jobs(body: PurgeRequest, svc: Svc, key: ApiKey = ADMIN) -> Response:
    return ok(Purged(purged=await svc.purge(body.older_than_sec, key)))


@router.get("/{job_id}", response_model=Success[JobDetail], summary="Get a job with its logs")
async def get_job(job_id: JobIdPath, svc: Svc, key: ApiKey = READ) -> Response:
    job, logs = await svc.job_with_logs(job_id)
    return ok(JobDetail.with_logs(job, logs))


@router.post("/{job_id}/cancel", response_model=Success[JobOut], summary="Cancel a job")
async def cancel_job(job_id: JobIdPath, svc: Svc, key: ApiKey = WRITE) -> Response:
    return ok(JobOut.of(await svc.cancel(job_id, key)))


@router.post("/{job_id}/retry", response_model=Success[JobOut], summary="Retry a failed or cancelled job")
async def retry_job(job_id: JobIdPath, svc: Svc, key: ApiKey = WRITE) -> Response:
    return ok(JobOut.of(await svc.retry(job_id, key)))


@router.delete("/{job_id}", response_model=Success[Deleted], summary="Delete a job that is not running")
async def delete_job(job_id: JobIdPath, svc: Svc, key: ApiKey = ADMIN) -> Response:
    await svc.delete(job_id, key)
    return ok(Deleted(job_id=job_id))
