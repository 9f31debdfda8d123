"""A trigger becomes one SDDC Manager backup, tracked to the end, with a signed callback."""

from __future__ import annotations

import concurrent.futures

import requests
from standardwebhooks.webhooks import Webhook

from tests.conftest import SIGNING_SECRET


def backups_started(simulator) -> int:
    return simulator.state.backups_started


def test_trigger_ends_successful_with_signed_callback(node, simulator, receiver, auth):
    response = requests.post(node.url + "/v1/triggers", headers=auth,
                             json={"reason": "pre-change", "callbackUrl": receiver.url()})
    assert response.status_code == 202
    trigger_id = response.json()["id"]
    assert response.json()["statusUrl"].endswith(f"/v1/triggers/{trigger_id}")

    [callback] = receiver.wait_for(1)
    body = Webhook(SIGNING_SECRET).verify(callback.body, callback.headers)
    assert body["status"] == "SUCCESSFUL"
    assert body["outcome"] == "success"
    assert body["trigger"]["id"] == trigger_id
    assert body["trigger"]["reason"] == "pre-change"
    assert body["resources"][0]["type"] == "SDDC_MANAGER"
    assert body["startedAt"] and body["completedAt"]
    assert callback.headers["Webhook-Id"].startswith("dlv_")

    status = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth).json()
    assert status["state"] == "DONE"
    assert status["backup"]["id"] == body["id"]
    assert status["deliveries"][0]["state"] == "DELIVERED"
    assert backups_started(simulator) == 1


def test_failed_backup_reports_sddc_manager_errors_in_callback(node, simulator, receiver, auth):
    simulator.state.update_config(outcome="FAILED")
    requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()})
    [callback] = receiver.wait_for(1)
    body = callback.json()
    assert body["status"] == "FAILED"
    assert body["outcome"] == "failure"
    messages = [e.get("message", "") for e in body["errors"]]
    assert any("SFTP" in m or "failed" in m.lower() for m in messages)
    assert any(e.get("remediationMessage") for e in body["errors"])


def test_twenty_concurrent_triggers_start_exactly_one_backup(node, simulator, receiver, auth):
    def fire(i: int) -> int:
        return requests.post(node.url + "/v1/triggers", headers=auth,
                             json={"reason": f"t{i}", "callbackUrl": receiver.url()}).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(fire, range(20)))
    assert codes == [202] * 20
    callbacks = receiver.wait_for(20)
    assert len({c.json()["trigger"]["id"] for c in callbacks}) == 20
    assert {c.json()["id"] for c in callbacks} == {callbacks[0].json()["id"]}
    assert backups_started(simulator) == 1
