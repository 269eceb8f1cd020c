"""Commands that serve HTTP: `serve` (the API alone) and `up` (API + workers in one command)."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

import click

from ..app import Conveyor
from ..settings import DEFAULT_DATABASE_URL
from .common import common_options, handle_errors, open_app, settings_overrides
from .worker import worker_options

if TYPE_CHECKING:
    from .system import System

log = logging.getLogger("conveyor.server")


def server_options(fn: Any) -> Any:
    fn = click.option("--port", type=int, envvar="CONVEYOR_PORT", show_envvar=True,
                      help="Port to listen on (0: any free port). [default: 8000]")(fn)
    return click.option("--host", envvar="CONVEYOR_HOST", show_envvar=True,
                        help="Address to listen on. [default: 127.0.0.1]")(fn)


def _db_hint(app: Conveyor) -> str:
    url = app.settings.database_url
    return "" if url == DEFAULT_DATABASE_URL else f" --db {url}"


def _announce_up(system: System) -> None:
    app = system.app
    url = system.url()
    workers = 1 + system.extra_processes
    click.echo(f"Conveyor is up at {url}")
    click.echo(f"  store     {app.settings.database_url}")
    click.echo(f"  handlers  {', '.join(sorted(app.handlers)) or '(none)'}")
    plural = "es" if workers > 1 else ""
    click.echo(f"  workers   {workers} process{plural} x {app.settings.concurrency} concurrent jobs")
    click.echo(f"  dashboard {url}/dashboard   (log in with an API key)")
    click.echo(f"  API docs  {url}/docs     health {url}/health     metrics {url}/metrics")
    click.echo("Create an API key (shown once):")
    click.echo(f"  conveyor keys create --name me --scope admin{_db_hint(app)}")
    click.echo("Then submit a job:")
    click.echo(f"  curl -X POST {url}/api/jobs/ -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' "
               "-d '{\"job_type\": \"echo\", \"parameters\": {\"hello\": \"world\"}}'")
    click.echo("Stop with Ctrl+C (graceful: running jobs finish).")


def _announce_serve(system: System) -> None:
    url = system.url()
    click.echo(f"Conveyor API at {url} (docs {url}/docs); store {system.app.settings.database_url}")
    click.echo(f"Dashboard at {url}/dashboard (log in with an API key)")
    click.echo(f"Create an API key: conveyor keys create --name me --scope admin{_db_hint(system.app)}")


@click.command()
@common_options
@server_options
@handle_errors
def serve(app_spec: str | None, db: str | None, host: str | None, port: int | None) -> None:
    """Serve the HTTP API (SPEC §5) without running jobs; run workers with `conveyor worker`."""
    app = open_app(app_spec, db, create=True, **settings_overrides(host=host, port=port))
    try:
        from .system import System

        code = asyncio.run(System(app, worker=False).run(_announce_serve))
    finally:
        app.close()
    sys.exit(code)


@click.command()
@common_options
@server_options
@worker_options
@handle_errors
def up(app_spec: str | None, db: str | None, host: str | None, port: int | None, **flags: Any) -> None:
    """Run everything in one command: the HTTP API and workers (the example handlers, embedded
    SQLite ./conveyor.db by default). `--processes N` runs N-1 more worker processes."""
    app = open_app(app_spec, db, create=True, **settings_overrides(host=host, port=port, **flags))
    extra = app.settings.processes - 1
    try:
        from .system import System

        code = asyncio.run(System(app, worker=True, extra_processes=extra, app_spec=app_spec).run(_announce_up))
    finally:
        app.close()
    sys.exit(code)


COMMANDS = [serve, up]
