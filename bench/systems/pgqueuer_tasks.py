"""PgQueuer's worker factory for the benchmark (`pgq run bench.systems.pgqueuer_tasks:create`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
from pgqueuer import AsyncpgDriver, PgQueuer
from pgqueuer.models import Job

from bench.systems._peer import stamp


@contextlib.asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    connection = await asyncpg.connect(os.environ["BENCH_STORE_URL"])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        stamp(int(job.payload or b"0"))

    @pgq.entrypoint("cpu")
    async def cpu(job: Job) -> None:
        """W6: PgQueuer's advice for blocking code, `await asyncio.to_thread(...)`."""
        import asyncio

        from bench.systems._cpu import burn
        from bench.systems._peer import stamp_end

        i = int(job.payload or b"0")
        stamp(i)
        await asyncio.to_thread(burn)
        stamp_end(i)

    try:
        yield pgq
    finally:
        await connection.close()


if __name__ == "__main__":  # what `pgq run …:create` does, with its defaults; the CLI of pgqueuer
    # 1.6.0 fails before starting under typer's current release (`--log-level` parses to a str).
    import asyncio

    from pgqueuer import run

    asyncio.run(run(create))
