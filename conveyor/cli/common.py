"""What every command shares: `--db`/`--app`, loading the app, and one-line errors."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import pydantic

from ..app import Conveyor
from ..errors import ConveyorError

DEFAULT_APP = "conveyor.examples:create_app"
F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """Printed as one `Error: …` line with exit code 1."""


def fail(message: str) -> CliError:
    return CliError(message)


def load_app(spec: str | None) -> Conveyor:
    """`module:attr` where attr is a `Conveyor` or a callable returning one."""
    spec = spec or os.environ.get("CONVEYOR_APP") or DEFAULT_APP
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise fail(f"--app must look like module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `--app myproject.jobs:app` from the project folder
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise fail(f"cannot import {module_name!r} for --app: {exc}") from None
    try:
        target = getattr(module, attr)
    except AttributeError:
        raise fail(f"module {module_name!r} has no attribute {attr!r}") from None
    app = target() if callable(target) and not isinstance(target, Conveyor) else target
    if not isinstance(app, Conveyor):
        raise fail(f"{spec} is not a Conveyor app (got {type(app).__name__})")
    return app


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        "db",
        metavar="URL",
        envvar="CONVEYOR_DATABASE_URL",
        show_envvar=True,
        help="Store URL: sqlite:///file.db or postgresql://… [default: sqlite:///./conveyor.db]",
    )(fn)


def app_option(fn: F) -> F:
    return click.option(
        "--app",
        "app_spec",
        metavar="MODULE:ATTR",
        envvar="CONVEYOR_APP",
        show_envvar=True,
        help=f"The Conveyor app (or a factory) whose handlers to use. [default: {DEFAULT_APP}]",
    )(fn)


def common_options(fn: F) -> F:
    return db_option(app_option(fn))


def open_app(app_spec: str | None, db: str | None, *, create: bool, **settings: Any) -> Conveyor:
    """Load the app, apply flags, and open its store (read commands never create a database)."""
    app = load_app(app_spec)
    app.configure(database_url=db, **settings)
    app.open(create=create)
    return app


def handle_errors(fn: F) -> F:
    """Turn expected failures into one-line errors; a traceback is only for real bugs."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ConveyorError as exc:
            raise fail(str(exc)) from None
        except pydantic.ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise fail(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        except KeyboardInterrupt:
            raise click.Abort() from None

    return wrapper  # type: ignore[return-value]


def settings_overrides(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}
