"""The command group loads each command's module only when that command runs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from conveyor.cli import COMMAND_MODULES


def test_every_command_is_mapped_to_the_module_that_defines_it() -> None:
    defined = {}
    for module in set(COMMAND_MODULES.values()):
        for command in importlib.import_module(f"conveyor.cli.{module}").COMMANDS:
            defined[command.name] = module
    assert defined == COMMAND_MODULES


def test_the_worker_command_loads_no_http_client_rich_or_server() -> None:
    """What a worker process imports at start-up: not what only other commands need."""
    code = (
        "import json, sys\n"
        "from conveyor.cli import cli\n"
        "import click\n"
        "assert cli.get_command(click.Context(cli), 'worker') is not None\n"
        "print(json.dumps(sorted(m for m in ('httpx', 'rich', 'uvicorn', 'fastapi', 'croniter', 'jinja2')"
        " if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []
