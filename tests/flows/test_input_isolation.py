"""No caller's input can stall or break the service for anyone else (issue 13), over real HTTP with the
worker running: bounded values, a poison trigger that ends alone, readiness that tells the truth,
and callback capabilities that stay with their owner."""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import API_TOKEN
from tests.flows.test_slack_flow import SLACK_SECRET, command
from tests.support.node import InProcessNode

OTHER_TOKEN = "other-token-9876543210"


def until(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout} s")


@pytest.mark.parametrize("reuse", [1e15, "Infinity", "999999999d", "1e400", -5])
def test_an_unbounded_reuse_window_is_refused_and_the_next_trigger_still_completes(node, receiver, auth, reuse):
    text = '{"reuseIfNewerThan": %s}' % (reuse if isinstance(reuse, float | int) or reuse == "Infinity"
                                         else f'"{reuse}"')
    refused = requests.post(node.url + "/v1/triggers", headers={**auth, "Content-Type": "application/json"},
                            data=text, timeout=10)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errorCode"] == "VCFBACKUP_INVALID_REQUEST"
    fresh = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()}, timeout=10)
    assert fresh.status_code == 202
    [callback] = receiver.wait_for(1, timeout=20)
    assert callback.json()["status"] == "SUCCESSFUL"


@pytest.mark.parametrize("body", [
    b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",   # RecursionError in the parser
    b'{"reason": "x", "elements": ' + b"[" * 40 + b"]" * 40 + b"}",  # deeper than the limit
    b'{"reuseIfNewerThan": ' + b"9" * 5000 + b"}",               # more digits than int() takes
    b'{"reason": "a\\u0000b"}',                                    # PostgreSQL cannot store NUL
])
def test_hostile_json_is_a_400_with_the_error_model_never_a_500(node, auth, body):
    for path, headers in (("/v1/triggers", auth), ("/hooks/alertmanager", {})):
        answer = requests.post(node.url + path, data=body, timeout=30,
                               headers={**headers, "Content-Type": "application/json"})
        if path == "/hooks/alertmanager" and answer.status_code == 401:
            continue  # no Alertmanager credentials configured on this node: refused before parsing
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
        assert answer.json()["referenceToken"]


def test_a_trigger_the_worker_cannot_handle_ends_alone_with_the_reason(make_settings, receiver, auth):
    node = InProcessNode(make_settings(), start_workers=False)
    [worker] = node.workers
    reuse = worker.attaching._reuse_recent

    def buggy(trigger, now):  # whatever goes wrong with this one trigger (a bug, a bad row)
        if trigger.reason == "poison":
            raise OverflowError("date value out of range")
        return reuse(trigger, now)

    worker.attaching._reuse_recent = buggy
    node.start().start_workers()
    try:
        poison = requests.post(node.url + "/v1/triggers", headers=auth, timeout=10, json={
            "reason": "poison", "reuseIfNewerThan": "1h", "callbackUrl": receiver.url("/poison")}).json()["id"]
        good = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url("/good")},
                             timeout=10).json()["id"]
        by_path = {r.path: r.json() for r in receiver.wait_for(2, timeout=20)}
        assert by_path["/good"]["trigger"]["id"] == good and by_path["/good"]["status"] == "SUCCESSFUL"
        failed = by_path["/poison"]
        assert failed["outcome"] == "failure" and failed["errors"][0]["errorCode"] == "VCFBACKUP_TRIGGER_FAILED"
        assert failed["errors"][0]["referenceToken"]
        view = requests.get(f"{node.url}/v1/triggers/{poison}", headers=auth, timeout=10).json()
        assert view["state"] == "DONE" and "referenceToken" in view["trigger"]["note"]
        assert requests.get(node.url + "/readyz", timeout=10).status_code == 200
    finally:
        node.stop()


def test_readyz_says_why_when_the_worker_cycles_keep_failing(make_settings):
    node = InProcessNode(make_settings(), start_workers=False)
    [worker] = node.workers
    worker.config = type(worker.config)(**{**worker.config.__dict__, "error_backoff_initial": 0.05,
                                           "error_backoff_max": 0.05})

    def broken() -> bool:
        raise RuntimeError("a bug in a step")

    worker.attaching.attach = broken  # every cycle fails, though the store is fine
    node.start().start_workers()
    try:
        def failing() -> str | None:
            answer = requests.get(node.url + "/readyz", timeout=10)
            worker_check = answer.json()["checks"]["worker"]
            return worker_check if answer.status_code == 503 and "failed in a row" in worker_check else None

        assert "RuntimeError" in until(failing, what="503 with the reason")
    finally:
        node.stop()


def test_callback_capabilities_are_shown_only_to_their_owner(make_settings, receiver):
    settings = make_settings(api_tokens={"ci": API_TOKEN, "other": OTHER_TOKEN}, slack_signing_secret=SLACK_SECRET,
                             slack_response_hosts=[receiver.host])
    node = InProcessNode(settings).start()
    try:
        assert command(node, receiver, "backup before upgrade").status_code == 200
        secret_hook = receiver.url("/hooks/done?token=s3cr3t")
        mine = requests.post(node.url + "/v1/triggers", headers={"Authorization": f"Bearer {API_TOKEN}"},
                             json={"callbackUrl": secret_hook}, timeout=10).json()["id"]
        receiver.wait_for(3, timeout=20)  # Slack's started and result messages, and the generic callback
        other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
        for query in ("?source=slack", "?source=generic", ""):
            text = requests.get(node.url + "/v1/triggers" + query, headers=other, timeout=10).text
            assert "/commands/" not in text and "secret" not in text and "s3cr3t" not in text, text[:500]
        own = requests.get(f"{node.url}/v1/triggers/{mine}", headers={"Authorization": f"Bearer {API_TOKEN}"},
                           timeout=10).json()
        assert own["trigger"]["callbackUrl"] == secret_hook
        theirs = requests.get(f"{node.url}/v1/triggers/{mine}", headers=other, timeout=10).json()
        assert "s3cr3t" not in str(theirs)
    finally:
        node.stop()
