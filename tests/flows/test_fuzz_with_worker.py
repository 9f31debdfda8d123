"""Fuzz the running service *with its worker running* (issue 13: a fuzz run left triggers stuck
ACCEPTED because one of them wedged every worker cycle), then check that a fresh trigger still
completes and readiness holds."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import API_TOKEN
from tests.support.node import InProcessNode

FUZZED = ("POST /v1/triggers", "GET /v1/triggers", "GET /v1/triggers/{triggerId}", "POST /hooks/terraform")


def test_after_fuzzing_with_the_worker_running_a_fresh_trigger_still_completes(make_settings, receiver):
    node = InProcessNode(make_settings(max_wait=0.2, log_level="CRITICAL")).start()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        schema = schemathesis.openapi.from_url(node.url + "/openapi.json")
        operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.label in FUZZED]
        assert len(operations) >= 3
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def fuzz(case):  # noqa: ANN001
                response = case.call(base_url=node.url, headers=auth)
                case.validate_response(response, checks=[not_a_server_error])

            fuzz()
        fresh = requests.post(node.url + "/v1/triggers", headers=auth, timeout=10,
                              json={"reason": "after the fuzz", "callbackUrl": receiver.url("/after")})
        assert fresh.status_code == 202
        done = requests.get(f"{node.url}/v1/triggers/{fresh.json()['id']}", headers=auth, timeout=10)
        deadline_polls = 300
        while done.json()["state"] != "DONE" and deadline_polls:
            deadline_polls -= 1
            requests.get(node.url + "/healthz", timeout=10)
            done = requests.get(f"{node.url}/v1/triggers/{fresh.json()['id']}?wait=0.2", headers=auth, timeout=10)
        assert done.json()["state"] == "DONE", done.json()
        assert requests.get(node.url + "/readyz", timeout=10).status_code == 200
    finally:
        node.stop()
