"""Conveyor: a durable background-job system. This module is the whole public surface."""

from .app import Conveyor, JobSpec, WaitTimeout
from .client import ApiError, AsyncClient, Client
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

__version__ = "0.1.0"

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
