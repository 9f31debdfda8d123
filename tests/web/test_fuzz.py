"""Schema-driven fuzzing (schemathesis strategies, hypothesis) of every documented operation:
no input, authenticated or not, yields a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from webhook.app import Services, build_store, create_app
from webhook.settings import Settings

from tests.conftest import API_TOKEN


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    config = Settings(database_url=f"sqlite:///{tmp / 'fuzz.db'}", api_tokens={"ci": API_TOKEN},
                      callback_allowed_hosts=["hooks.example.com"], alertmanager_token="am-token",
                      slack_signing_secret="slack-secret", tfc_hmac_key="tfc-key", log_level="CRITICAL",
                      max_wait=0.2)  # no worker runs here: a ?wait would only block
    app = create_app(config, services=Services(settings=config, store=build_store(config)))
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_no_input_yields_a_server_error(api_schema):
    # /readyz answers a documented 503 here on purpose: no worker loop runs in this test.
    operations = [op for op in (r.ok() for r in api_schema.get_all_operations()) if op.label != "GET /readyz"]
    assert len(operations) >= 6
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):  # noqa: ANN001
            for headers in ({"Authorization": f"Bearer {API_TOKEN}"}, {}):
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])

        fuzz()
