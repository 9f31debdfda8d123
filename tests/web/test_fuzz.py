"""Schema-driven fuzzing (schemathesis strategies, hypothesis) of every documented operation of the
running service over real HTTP: no input, authenticated or not, yields a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import API_TOKEN
from tests.support.node import InProcessNode


@pytest.fixture(scope="module")
def running(tmp_path_factory, request):
    from webhook.settings import Settings

    tmp = tmp_path_factory.mktemp("fuzz")
    config = Settings(database_url=f"sqlite:///{tmp / 'fuzz.db'}", api_tokens={"ci": API_TOKEN},
                      sddc_url="http://127.0.0.1:9", callback_allowed_hosts=["hooks.example.com"],
                      alertmanager_token="am-token", slack_signing_secret="slack-secret", tfc_hmac_key="tfc-key",
                      log_level="CRITICAL", max_wait=0.2)
    node = InProcessNode(config, start_workers=False).start()  # no SDDC Manager here: triggers just wait
    yield node
    node.stop()


def test_no_input_yields_a_server_error(running):
    schema = schemathesis.openapi.from_url(running.url + "/openapi.json")
    # /readyz answers a documented 503 here on purpose: no worker loop runs in this test.
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.label != "GET /readyz"]
    assert len(operations) >= 8
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):  # noqa: ANN001
            for headers in ({"Authorization": f"Bearer {API_TOKEN}"}, {}):
                response = case.call(base_url=running.url, headers=headers)
                case.validate_response(response, checks=[not_a_server_error])

        fuzz()
