"""Conveyor: a durable background-job system. This module is the whole public surface."""

import typing as _typing

from .app import Conveyor, JobSpec, WaitTimeout
from .context import JobContext, SyncJobContext
from .errors import (
    ConfigError,
    ConveyorError,
    Fail,
    InvalidJobOptions,
    InvalidParameters,
    InvalidTransition,
    JobNotFound,
    Retry,
    StoreError,
    UnknownJobType,
)
from .job import Job, LogEntry
from .settings import Settings
from .status import JobStatus
from .workflow import WorkflowHandle, chain, group, step

if _typing.TYPE_CHECKING:
    from .client import ApiError, AsyncClient, Client

__version__ = "0.1.0"

_CLIENT_NAMES = frozenset({"ApiError", "AsyncClient", "Client"})


def __getattr__(name: str) -> _typing.Any:
    """The HTTP client loads on first use: httpx is a sixth of `import conveyor`, which every
    worker process pays at start-up and few of them need."""
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'conveyor' has no attribute {name!r}")

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "ConfigError",
    "Conveyor",
    "ConveyorError",
    "Fail",
    "InvalidJobOptions",
    "InvalidParameters",
    "InvalidTransition",
    "Job",
    "JobContext",
    "JobNotFound",
    "JobSpec",
    "JobStatus",
    "LogEntry",
    "Retry",
    "Settings",
    "StoreError",
    "SyncJobContext",
    "UnknownJobType",
    "WaitTimeout",
    "WorkflowHandle",
    "__version__",
    "chain",
    "group",
    "step",
]
