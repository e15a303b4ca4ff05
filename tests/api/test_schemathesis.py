"""Schemathesis against /api/v1/openapi.json through the ASGI app: zero 5xx responses.

One test walks every operation with a few generated cases each, authenticated with an admin
token (and the declared purpose), so the calls reach the domain rather than stopping at 401.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .conftest import Env

EXAMPLES = 4


@pytest.mark.slow
def test_no_operation_answers_5xx(sqlite_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "s3cret")
    app = sqlite_env.client.app
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {**sqlite_env.bearer(sqlite_env.tokens["admin"]), "X-Purpose": "account"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    seen: list[int] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            seen.append(response.status_code)
            case.validate_response(response, checks=[not_a_server_error])

        run()
    assert seen and max(seen) < 500
