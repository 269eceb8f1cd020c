"""The `conveyor` command line (SPEC §6)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from .. import __version__

# Each command's module (conveyor.cli.<module>), imported when the command runs: `conveyor worker`
# then loads what a worker needs and not Rich, uvicorn or the HTTP client (its start-up here went
# from 0.37 to 0.25 s), which every restarted or added worker process pays.
COMMAND_MODULES = {
    "worker": "worker", "migrate": "worker",
    "serve": "server", "up": "server",
    "enqueue": "jobs", "status": "jobs", "jobs": "jobs", "stats": "jobs", "logs": "jobs",
    "cancel": "jobs", "retry": "jobs", "purge": "jobs",
    "keys": "keys", "audit": "keys",
}


class ConveyorGroup(click.Group):
    """Every error ends as one `Error: …` line on stderr and a non-zero exit, never a traceback.
    Commands load lazily, from COMMAND_MODULES."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        commands: list[click.Command] = importlib.import_module(f"{__name__}.{module}").COMMANDS
        return next(c for c in commands if c.name == cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = f" ({exc.ctx.command_path})" if exc.ctx else ""
            click.echo(f"Error{where}: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)


@click.group(cls=ConveyorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="conveyor")
@click.option(
    "--log-level",
    default="info",
    envvar="CONVEYOR_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Logging level for workers and servers.",
)
def cli(log_level: str) -> None:
    """Conveyor: durable background jobs on SQLite or PostgreSQL."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli.main(prog_name="conveyor")


__all__ = ["cli", "main"]
