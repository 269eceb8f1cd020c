"""Enqueue-time validation: every bad option is refused with the field named, nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, InvalidJobOptions, InvalidParameters, UnknownJobType


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"priority": 11}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"delay": -1}, "delay"),
        ({"delay": "soon"}, "delay"),
        ({"run_at": "not a time"}, "run_at"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": 0}, "timeout"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"metadata": [1]}, "metadata"),
        ({"queue": "q" * 300}, "queue"),
    ],
)
def test_bad_options_name_the_field(make_app: Any, options: dict[str, Any], field: str) -> None:
    app: Conveyor = make_app()
    with pytest.raises(InvalidJobOptions) as err:
        app.enqueue("echo", {}, **options)
    assert err.value.field == field
    assert app.stats()["total_jobs"] == 0


def test_bad_params_and_types(make_app: Any) -> None:
    app: Conveyor = make_app()
    with pytest.raises(InvalidParameters) as err:
        app.enqueue("sleep", {"seconds": -1})
    assert err.value.field == "seconds"
    with pytest.raises(InvalidParameters):
        app.enqueue("echo", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(UnknownJobType, match="nope"):
        app.enqueue("nope", {})
    with pytest.raises(InvalidParameters, match=r"jobs\[1\]"):
        app.enqueue_many([("echo", {}), ("sleep", {"seconds": "x"})])
    assert app.stats()["total_jobs"] == 0  # all or nothing


def test_producer_without_handlers_accepts_any_type(make_app: Any) -> None:
    app: Conveyor = make_app(examples=False)
    job = app.enqueue("handled.elsewhere", {"x": 1})
    assert app.get(job.job_id).job_type == "handled.elsewhere"
