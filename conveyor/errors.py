"""Exceptions users meet: the ones handlers raise and the ones the API raises."""

from __future__ import annotations

from typing import Any


class ConveyorError(Exception):
    """Base of every error Conveyor raises on purpose; `str()` is a one-line reason."""

    code = "CONVEYOR_ERROR"


class ConfigError(ConveyorError):
    code = "INVALID_CONFIG"


class StoreError(ConveyorError):
    """The store cannot be opened or used (missing file, foreign database, unreachable server)."""

    code = "STORE_ERROR"


class StoreBusy(StoreError):
    """Another process holds the database's write lock, and the call asked not to wait (SQLite)."""


class JobNotFound(ConveyorError):
    code = "JOB_NOT_FOUND"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id


class UnknownJobType(ConveyorError):
    code = "UNKNOWN_JOB_TYPE"

    def __init__(self, job_type: str) -> None:
        super().__init__(f"unknown job_type {job_type!r}: no handler is registered for it")
        self.job_type = job_type


class InvalidParameters(ConveyorError):
    """Parameters do not match the handler's model; `field` names the first bad one."""

    code = "INVALID_PARAMETERS"

    def __init__(self, message: str, field: str | None = None, errors: list[Any] | None = None):
        super().__init__(message)
        self.field = field
        self.errors = errors or []


class InvalidJobOptions(ConveyorError):
    code = "INVALID_OPTIONS"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTransition(ConveyorError):
    """An admin action that the job's current status does not allow (e.g. retry a running job)."""

    code = "INVALID_STATE"


class Retry(Exception):
    """Raised by a handler to ask for another attempt, after `delay` seconds if given."""

    def __init__(self, delay: float | None = None, message: str = "retry requested") -> None:
        super().__init__(message)
        self.delay = delay
        self.message = message


class Fail(Exception):
    """Raised by a handler to fail the job at once, without retrying."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
