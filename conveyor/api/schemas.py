"""Wire schemas (SPEC §4–5): what the API accepts and returns, separate from the stored `Job`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..admin import audit_to_dict
from ..apikeys import ApiKey, Scope
from ..errors import InvalidJobOptions
from ..job import Job, LogEntry
from ..status import JobStatus
from ..store.params import AuditRecord
from ..webhooks import validate_webhook

T = TypeVar("T")
MAX_SECONDS = 10 * 365 * 86_400.0
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
DateTime = Field(json_schema_extra={"format": "date-time"})


# -- envelopes ---------------------------------------------------------------------------------


class Success(BaseModel, Generic[T]):
    status: Literal["success"] = "success"
    data: T


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    status: Literal["error"] = "error"
    error: ErrorInfo


# -- requests ----------------------------------------------------------------------------------


class WebhookIn(BaseModel):
    """Progress and completion callbacks (SPEC §5); `jobId` is echoed back in every callback."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, examples=["https://example.com/hooks/conveyor"])
    token: str | None = Field(None, max_length=4096)
    jobId: str | int | None = None  # the SPEC's name


class JobSubmit(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"job_type": "echo", "parameters": {"x": 1}}]}
    )

    job_type: str = Field(min_length=1, max_length=200)
    parameters: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(None, ge=0, le=10)
    queue: str | None = Field(None, min_length=1, max_length=200)
    delay_sec: float | None = Field(None, ge=0, le=MAX_SECONDS)
    run_at: datetime | None = None
    max_attempts: int | None = Field(None, ge=1, le=1000)
    timeout_sec: float | None = Field(None, gt=0, le=MAX_SECONDS)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    depends_on: list[str] = Field(default_factory=list, max_length=1000)
    webhook: WebhookIn | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("run_at")
    @classmethod
    def _sane_time(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if not _EARLIEST <= value < _LATEST:
            raise ValueError("run_at must be between 1970 and 9000")
        return value

    def options(self, allowed_hosts: tuple[str, ...] | None, header_key: str | None = None) -> dict[str, Any]:
        """Keyword arguments for `Conveyor.build_job`, webhook extracted and checked."""
        key = self.idempotency_key
        if header_key is not None:
            if key is not None and key != header_key:
                raise InvalidJobOptions(
                    "the Idempotency-Key header and idempotency_key differ", field="idempotency_key"
                )
            key = header_key
        parameters = dict(self.parameters)
        nested = parameters.pop("webhook", None)
        if nested is not None and self.webhook is not None:
            raise InvalidJobOptions("give webhook at the top level or in parameters, not both", field="webhook")
        hook = self.webhook.model_dump() if self.webhook is not None else nested
        return {
            "parameters": parameters,
            "queue": self.queue,
            "priority": self.priority,
            "delay": self.delay_sec,
            "run_at": self.run_at,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout_sec,
            "idempotency_key": key,
            "depends_on": tuple(self.depends_on),
            "webhook": validate_webhook(hook, allowed_hosts),
            "metadata": self.metadata,
        }


class BatchSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSubmit] = Field(min_length=1, max_length=1000)
    max_concurrency: int | None = Field(
        None, ge=1, le=10_000, description="at most this many children due at once, fleet-wide"
    )
    queue: str | None = Field(None, min_length=1, max_length=200, description="the parent job's queue")
    metadata: dict[str, Any] | None = None


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_sec: float = Field(7 * 86_400.0, ge=0, le=MAX_SECONDS)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scope: Scope = Scope.READ


# -- responses ---------------------------------------------------------------------------------


class LogOut(BaseModel):
    timestamp: str = DateTime
    level: str
    message: str

    @classmethod
    def of(cls, entry: LogEntry) -> LogOut:
        return cls.model_validate(entry.to_dict())


class JobOut(BaseModel):
    """A job as SPEC §4 shows it."""

    job_id: str
    job_type: str
    queue: str
    status: JobStatus
    priority: int
    parameters: dict[str, Any]
    progress: dict[str, Any] | None
    results: Any
    error: dict[str, Any] | None
    attempt: int
    max_attempts: int
    created_at: str = DateTime
    run_at: str = DateTime
    started_at: str | None = DateTime
    finished_at: str | None = DateTime
    parent_id: str | None
    depends_on: list[str]
    idempotency_key: str | None
    metadata: dict[str, Any]

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job.to_dict())


class JobDetail(JobOut):
    logs: list[LogOut]

    @classmethod
    def with_logs(cls, job: Job, logs: list[LogEntry]) -> JobDetail:
        return cls.model_validate({**job.to_dict(), "logs": [entry.to_dict() for entry in logs]})


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None


class BatchOut(BaseModel):
    parent: JobOut
    jobs: list[JobOut]


class Deleted(BaseModel):
    job_id: str
    deleted: Literal[True] = True


class Purged(BaseModel):
    purged: int


class AuditOut(BaseModel):
    seq: int
    at: str = DateTime
    actor: str
    action: str
    job_ids: list[str]
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditRecord) -> AuditOut:
        return cls.model_validate(audit_to_dict(entry))


class AuditPageOut(BaseModel):
    entries: list[AuditOut]
    next_cursor: str | None


class KeyOut(BaseModel):
    key_id: str
    name: str
    scope: Scope
    created_at: str = DateTime
    last_used_at: str | None = DateTime
    revoked_at: str | None = DateTime

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls.model_validate(key.to_dict())


class KeyCreated(KeyOut):
    key: str = Field(description="the API key; shown only in this response")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    store: str
    schema_version: int


class StatsOut(BaseModel):
    """`Conveyor.stats()` (SPEC §3); more keys may appear."""

    model_config = ConfigDict(extra="allow")

    total_jobs: int
    by_status: dict[str, int]
    by_queue: dict[str, dict[str, int]]
    by_type: dict[str, dict[str, int]]
    success_rate: float | None
    avg_duration_sec: float | None
    p95_duration_sec: float | None
