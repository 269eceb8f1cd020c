"""Typed settings with one precedence: defaults < conveyor.toml / pyproject < CONVEYOR_* env < flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

from .errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./conveyor.db"


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    # worker
    concurrency: int = pydantic.Field(10, ge=1, le=10_000)
    processes: int = pydantic.Field(1, ge=1, le=256)
    queues: tuple[str, ...] | None = None  # None: every queue
    poll_interval: float = pydantic.Field(1.0, gt=0, le=3600)  # fallback only; wake-ups are pushed
    lease_seconds: float = pydantic.Field(30.0, ge=0.5, le=86_400)
    shutdown_grace_seconds: float = pydantic.Field(30.0, ge=0, le=86_400)
    max_crashes: int = pydantic.Field(3, ge=1, le=1000)
    claim_batch: int = pydantic.Field(100, ge=1, le=10_000)
    # jobs
    max_attempts: int = pydantic.Field(3, ge=1, le=1000)
    retry_base_seconds: float = pydantic.Field(1.0, ge=0)
    retry_max_seconds: float = pydantic.Field(300.0, ge=0)
    retention_seconds: float = pydantic.Field(7 * 86_400, ge=0)  # 0 keeps finished jobs forever
    auto_migrate: bool = True
    # webhooks (conveyor/webhooks): delivered by every worker process
    webhook_secret: str | None = None  # HMAC key of the signature header; None: each webhook's token
    webhook_allowed_hosts: tuple[str, ...] | None = None  # None: any host; else names, *.suffix, host:port
    webhook_timeout_seconds: float = pydantic.Field(10.0, gt=0, le=300)  # one request, all in
    webhook_concurrency: int = pydantic.Field(16, ge=1, le=1000)  # requests in flight per worker
    webhook_retry_base_seconds: float = pydantic.Field(1.0, gt=0, le=3600)
    webhook_retry_max_seconds: float = pydantic.Field(120.0, gt=0, le=86_400)
    webhook_max_attempts: int = pydantic.Field(30, ge=1, le=1000)
    webhook_max_age_seconds: float = pydantic.Field(86_400.0, gt=0)  # then a callback is dead
    webhook_progress_interval: float = pydantic.Field(1.0, ge=0, le=3600)  # per job, between progress callbacks
    webhook_poll_interval: float = pydantic.Field(0.25, gt=0, le=60)
    # server
    host: str = "127.0.0.1"
    port: int = pydantic.Field(8000, ge=0, le=65535)

    @pydantic.field_validator("queues", "webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_queues(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = tuple(q.strip() for q in value.split(",") if q.strip())
            return parts or None
        return value

    def merged(self, **overrides: Any) -> Settings:
        """A copy with the non-None overrides applied and validated."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return _validate(data, "settings")


def env_var(name: str) -> str:
    return f"CONVEYOR_{name.upper()}"


def _validate(data: Mapping[str, Any], source: str) -> Settings:
    try:
        return Settings.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"invalid setting {field} ({source}): {err['msg']}") from None


def _file_settings(cwd: Path) -> tuple[dict[str, Any], str]:
    toml_path = cwd / "conveyor.toml"
    try:
        if toml_path.is_file():
            return tomllib.loads(toml_path.read_text()), str(toml_path)
        pyproject = cwd / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text())
            return data.get("tool", {}).get("conveyor", {}), str(pyproject)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse configuration file: {exc}") from None
    return {}, "defaults"


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    env = os.environ if env is None else env
    data, source = _file_settings(cwd or Path.cwd())
    unknown = set(data) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(f"unknown setting {sorted(unknown)[0]!r} in {source}")
    for name in Settings.model_fields:
        value = env.get(env_var(name))
        if value is not None and value != "":
            data[name] = value
    for name, value in (overrides or {}).items():
        if value is not None:
            data[name] = value
    return _validate(data, "flags, environment or " + source)
