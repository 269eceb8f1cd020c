"""What the routes call: the app's operations run off the event loop, submissions group-committed,
admin actions audited under the caller's key name. One instance per API app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ..admin import Operator, audit_list
from ..apikeys import ApiKey, ApiKeys, Scope
from ..errors import ConveyorError, InvalidJobOptions
from ..job import Job, LogEntry, NewJob, new_job_id
from ..store.params import AuditPage, JobPage
from .errors import problem_of
from .schemas import BatchSubmit, JobSubmit

if TYPE_CHECKING:
    from ..app import Conveyor

R = TypeVar("R")
MAX_GROUP_COMMIT = 1000


class GroupCommit:
    """Concurrent submissions share transactions: while one insert runs, the next ones queue and
    then go in together. Each caller gets its jobs back once they are committed (durable)."""

    def __init__(self, insert: Callable[[list[NewJob]], list[Job]], executor: ThreadPoolExecutor) -> None:
        self._insert = insert
        self._executor = executor
        self._waiting: list[tuple[list[NewJob], asyncio.Future[list[Job]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def insert(self, jobs: list[NewJob]) -> list[Job]:
        future: asyncio.Future[list[Job]] = asyncio.get_running_loop().create_future()
        self._waiting.append((jobs, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            group: list[tuple[list[NewJob], asyncio.Future[list[Job]]]] = []
            size = 0
            while self._waiting and (not group or size + len(self._waiting[0][0]) <= MAX_GROUP_COMMIT):
                item = self._waiting.pop(0)
                group.append(item)
                size += len(item[0])
            everything = [job for jobs, _ in group for job in jobs]
            try:
                stored = await loop.run_in_executor(self._executor, self._insert, everything)
            except Exception as exc:
                if len(group) > 1:  # one caller's bad job must not fail the others: go one by one
                    self._waiting[:0] = [(jobs, future) for jobs, future in group]
                    await self._one_by_one(len(group))
                    continue
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for jobs, future in group:
                if not future.done():
                    future.set_result(stored[start:start + len(jobs)])
                start += len(jobs)


    async def _one_by_one(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            jobs, future = self._waiting.pop(0)
            try:
                stored = await loop.run_in_executor(self._executor, self._insert, jobs)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(stored)


class ApiServices:
    def __init__(self, app: Conveyor, *, read_threads: int = 4) -> None:
        self.app = app
        self.keys = ApiKeys(app)
        self.allowed_hosts: tuple[str, ...] | None = app.settings.webhook_allowed_hosts
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="conveyor-api-write")
        self._readers = ThreadPoolExecutor(read_threads, thread_name_prefix="conveyor-api-read")
        self.group_commit = GroupCommit(app.insert, self._writer)
        self.changed: Callable[[str], None] = lambda job_id: None  # set by the event hub

    async def read(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._readers, fn, *args)

    async def write(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)

    # -- keys --------------------------------------------------------------------------------------

    async def authenticate(self, key: str) -> ApiKey | None:
        return await self.read(self.keys.verify, key)

    async def create_key(self, name: str, scope: Scope, actor: ApiKey) -> tuple[ApiKey, str]:
        return await self.write(lambda: self.keys.create(name, scope, actor=actor.name))

    async def list_keys(self, include_revoked: bool) -> list[ApiKey]:
        return await self.read(self.keys.list_keys, include_revoked)

    async def revoke_key(self, name_or_id: str, actor: ApiKey) -> list[ApiKey]:
        return await self.write(lambda: self.keys.revoke(name_or_id, actor=actor.name))

    # -- submit ------------------------------------------------------------------------------------

    async def submit(self, body: JobSubmit, header_key: str | None = None) -> tuple[Job, bool]:
        """The job and whether it was created (False: an unfinished job had this idempotency key)."""
        new = self.app.build_job(body.job_type, **body.options(self.allowed_hosts, header_key))
        job = (await self.group_commit.insert([new]))[0]
        return job, job.job_id == new.job_id

    async def submit_batch(self, body: BatchSubmit) -> tuple[Job, list[Job]]:
        """A parent job whose children are the given jobs (see `Conveyor.batch`), in one transaction."""
        now = self.app.clock.now()
        parent_id = new_job_id()
        children = []
        for index, item in enumerate(body.jobs):
            try:
                options = item.options(self.allowed_hosts)
                children.append(self.app.build_job(item.job_type, **options, parent_id=parent_id, now=now))
            except ConveyorError as exc:
                raise problem_of(exc, f"jobs.{index}") from None
        rows, batch = self.app.batch_rows(
            children, max_concurrency=body.max_concurrency, parent_id=parent_id, now=now,
            queue=body.queue, metadata=body.metadata,
        )
        stored = await self.write(self.app.insert, rows, [batch])
        return stored[0], stored[1:]

    # -- read --------------------------------------------------------------------------------------

    async def job_with_logs(self, job_id: str) -> tuple[Job, list[LogEntry]]:
        def both() -> tuple[Job, list[LogEntry]]:
            return self.app.get(job_id), self.app.logs(job_id)

        return await self.read(both)

    async def list_jobs(self, **filters: Any) -> JobPage:
        try:
            return await self.read(lambda: self.app.list(**filters))
        except (ValueError, OverflowError):  # a cursor this store never handed out
            raise InvalidJobOptions("cursor is not one this API returned", field="cursor") from None

    async def stats(self) -> dict[str, Any]:
        return await self.read(self.app.stats)

    async def audit(self, **filters: Any) -> AuditPage:
        try:
            return await self.read(lambda: audit_list(self.app, **filters))
        except (ValueError, OverflowError):
            raise InvalidJobOptions("cursor is not one this API returned", field="cursor") from None

    # -- operator actions (audited) ----------------------------------------------------------------

    async def cancel(self, job_id: str, actor: ApiKey) -> Job:
        job = await self.write(Operator(self.app, actor.name).cancel, job_id)
        self.changed(job.job_id)
        return job

    async def retry(self, job_id: str, actor: ApiKey) -> Job:
        job = await self.write(Operator(self.app, actor.name).retry, job_id)
        self.changed(job.job_id)
        return job

    async def delete(self, job_id: str, actor: ApiKey) -> None:
        await self.write(Operator(self.app, actor.name).delete, job_id)
        self.changed(job_id)

    async def purge(self, older_than_sec: float, actor: ApiKey) -> int:
        return await self.write(Operator(self.app, actor.name).purge, timedelta(seconds=older_than_sec))

    async def schema_version(self) -> int:
        return await self.read(self.app.store.schema_version)

