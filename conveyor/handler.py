"""The user-code contract: a registered handler, its options, and its parameter model."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from .errors import InvalidParameters

HandlerFn = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Handler:
    job_type: str
    fn: HandlerFn
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    params_model: type[pydantic.BaseModel] | None = None
    is_async: bool = False
    concurrency_limit: int | None = None  # fleet-wide, across every worker
    rate_limit: tuple[int, float] | None = None  # (count, period seconds), fleet-wide

    @classmethod
    def build(cls, job_type: str, fn: HandlerFn, **options: Any) -> Handler:
        if not callable(fn):
            raise TypeError(f"handler for {job_type!r} is not callable")
        return cls(
            job_type=job_type,
            fn=fn,
            params_model=_params_model(fn),
            is_async=inspect.iscoroutinefunction(fn),
            **options,
        )

    def validate(self, parameters: Any) -> None:
        """Raise `InvalidParameters` naming the first bad field, if the handler declared a model."""
        if not isinstance(parameters, dict):
            raise InvalidParameters("parameters must be a JSON object", field="parameters")
        if self.params_model is None:
            return
        try:
            self.params_model.model_validate(parameters)
        except pydantic.ValidationError as exc:
            raise _invalid(self.job_type, exc) from None

    def parse(self, parameters: dict[str, Any]) -> Any:
        """What the handler receives: a model instance, or the dict itself."""
        if self.params_model is None:
            return parameters
        try:
            return self.params_model.model_validate(parameters)
        except pydantic.ValidationError as exc:
            raise _invalid(self.job_type, exc) from None


def _invalid(job_type: str, exc: pydantic.ValidationError) -> InvalidParameters:
    errors = exc.errors(include_url=False, include_context=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "parameters"
    return InvalidParameters(
        f"invalid parameters for {job_type!r}: {field}: {first['msg']}",
        field=field,
        errors=[{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in errors],
    )


def _params_model(fn: HandlerFn) -> type[pydantic.BaseModel] | None:
    """The pydantic model annotated on the handler's second parameter (after the context)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if len(params) < 2:
        return None
    annotation = params[1].annotation
    if annotation is inspect.Parameter.empty:
        return None
    try:
        hint = typing.get_type_hints(fn).get(params[1].name)
    except Exception:
        # Silently treating a model as a dict would skip validation: say so at registration.
        raise TypeError(
            f"cannot resolve the annotation {annotation!r} of {fn.__qualname__}'s parameters; "
            "define the model at module level"
        ) from None
    if isinstance(hint, type) and issubclass(hint, pydantic.BaseModel):
        return hint
    return None
