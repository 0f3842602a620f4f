"""The read API against its own OpenAPI schema, fuzzed with Schemathesis: every operation, with
a valid token, on an engagement with records; valid requests (on the real engagement) and
invalid ones. No answer may be a 5xx, and every answer must match the schema (the error
bodies too). Bounded and derandomized: the same cases on every run.

Schemathesis generates the cases and judges the answers; the requests go through the suite's
own client (`tests.console_web`, no lifespan). Its ASGI transport would start the app's
lifespan — the server's background workers — and an event-loop thread that outlives the test."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests import console_web
from tests.harness import ConsoleHarness
from tests.test_console_api import _make_records, _token

EXAMPLES = 25  # per operation and mode
CHECKS = [not_a_server_error, response_schema_conformance]


def test_every_operation_survives_fuzzing(demo: ConsoleHarness):
    _make_records(demo)
    browser = console_web.client(demo.runtime)
    schema = schemathesis.openapi.from_dict(browser.get("/api/openapi.json").json())
    headers = {"Authorization": f"Bearer {_token(demo)}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # obligations: #16 part 3
    calls: dict[tuple[str, str], set[int]] = {}
    for operation in operations:
        real = {"code": "DEMO-2026"} if "{code}" in operation.path else None
        for mode, path_parameters in ((GenerationMode.POSITIVE, real),
                                      (GenerationMode.NEGATIVE, None)):  # fmt: skip
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
            calls[operation.path, mode.value] = _fuzz(browser, strategy, headers)
    # Valid requests on the real engagement were answered (not all turned away as invalid),
    # and the invalid ones were refused as such.
    assert all(200 in answers for (_, mode), answers in calls.items() if mode == "positive")
    assert all(422 in answers for (_, mode), answers in calls.items() if mode == "negative")


def _fuzz(browser: TestClient, strategy: Any, headers: dict[str, str]) -> set[int]:
    """Run the cases `strategy` makes; the status codes of the answers."""
    answers: set[int] = set()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        sent = case.as_transport_kwargs(base_url=f"{console_web.BASE}/api", headers=headers)
        # Its session cookie (the schema's other way in) is left out: beside a bearer token it
        # is never read (`web.auth.api_viewer`).
        response = browser.request(sent["method"], sent["url"], params=sent["params"],
                                   headers=sent["headers"])  # fmt: skip
        case.validate_response(response, checks=CHECKS)
        answers.add(response.status_code)

    fuzz()
    return answers
