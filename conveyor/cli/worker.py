"""Commands that run things: `worker`, `up`, `migrate`."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..worker.supervisor import Supervisor
from .common import common_options, handle_errors, open_app, settings_overrides


def worker_options(fn: Any) -> Any:
    options = [
        click.option("--queues", metavar="A,B", envvar="CONVEYOR_QUEUES", show_envvar=True,
                     help="Queues to serve, comma-separated. [default: every queue]"),
        click.option("--concurrency", type=int, envvar="CONVEYOR_CONCURRENCY", show_envvar=True,
                     help="Jobs run at once per process. [default: 10]"),
        click.option("--processes", type=int, envvar="CONVEYOR_PROCESSES", show_envvar=True,
                     help="Worker processes to start. [default: 1]"),
        click.option("--lease-seconds", type=float, envvar="CONVEYOR_LEASE_SECONDS", show_envvar=True,
                     help="Lease length; a dead worker's jobs are rescued after it. [default: 30]"),
        click.option("--shutdown-grace-seconds", type=float, envvar="CONVEYOR_SHUTDOWN_GRACE_SECONDS",
                     show_envvar=True, help="On SIGTERM, how long running jobs may finish. [default: 30]"),
        click.option("--max-crashes", type=int, envvar="CONVEYOR_MAX_CRASHES", show_envvar=True,
                     help="Worker deaths a job may cause before it fails WORKER_CRASHED. [default: 3]"),
        click.option("--poll-interval", type=float, envvar="CONVEYOR_POLL_INTERVAL", show_envvar=True,
                     help="Fallback poll; wake-ups are pushed. [default: 1]"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.command()
@common_options
@worker_options
@handle_errors
def worker(app_spec: str | None, db: str | None, **flags: Any) -> None:
    """Run workers until SIGTERM/SIGINT (graceful: running jobs finish or go back to pending)."""
    app = open_app(app_spec, db, create=True, **settings_overrides(**flags))
    if app.settings.processes > 1:
        app.close()  # no connection or thread of ours left: children are forked from here

        def run_child() -> int:
            app.run_worker()
            return 0

        sys.exit(Supervisor(app.settings, app_spec, run_child=run_child).run())
    try:
        app.run_worker()
    finally:
        app.close()


@click.command()
@common_options
@handle_errors
def migrate(app_spec: str | None, db: str | None) -> None:
    """Create or upgrade the store's schema (safe to run while workers run)."""
    app = open_app(app_spec, db, create=True)
    click.echo(f"schema at version {app.store.schema_version()} ({app.settings.database_url})")
    app.close()


COMMANDS = [worker, migrate]

