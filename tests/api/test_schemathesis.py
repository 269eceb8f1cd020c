"""schemathesis against the API's own OpenAPI schema, over real HTTP: for every operation, valid
and invalid generated requests must get no 5xx, only documented statuses and content types, and
bodies that match the documented schemas. Bounded: a few dozen examples per operation."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api

pytestmark = pytest.mark.slow
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 20}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Event streams never end while their job runs: they have tests of their own (test_events.py).
SKIP = {"/api/events", "/api/jobs/{job_id}/events"}


def _run(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], calls: list[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


def test_schemathesis_finds_no_5xx_and_no_schema_violation(api: Api) -> None:
    # Some real jobs, so generated ids and cursors sometimes hit something.
    for i in range(3):
        api.app.enqueue("echo", {"i": i})
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue
        tested += 1
        for mode in EXAMPLES:
            try:
                _run(operation, mode, api.base_url, api.headers("admin"), calls)
            except Unsatisfiable:  # no parameters and no body: nothing invalid to send
                assert mode is GenerationMode.NEGATIVE, operation.path
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}"[:2000])
    assert tested >= 13
    assert len(calls) >= 300, f"only {len(calls)} requests were made"
    assert any(400 <= s < 500 for s in calls) and any(s < 300 for s in calls)
    assert not failures, "\n\n".join(failures)
