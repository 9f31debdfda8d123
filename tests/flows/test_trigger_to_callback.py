"""A trigger becomes one SDDC Manager backup, tracked to the end, with a signed callback."""

from __future__ import annotations

import concurrent.futures
import time

import requests
from standardwebhooks.webhooks import Webhook

from tests.conftest import SIGNING_SECRET
from tests.support.node import delivered_view


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

    status = delivered_view(node, auth, trigger_id)
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


def test_token_expiring_mid_poll_is_renewed_and_the_backup_still_completes(node, simulator, receiver, auth):
    simulator.state.update_config(backup_seconds=1.5)
    requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()})
    deadline = time.monotonic() + 5
    while not simulator.state.running_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    simulator.state.expire_tokens_now()
    [callback] = receiver.wait_for(1)
    assert callback.json()["status"] == "SUCCESSFUL"
    assert simulator.state.backups_started == 1
    assert simulator.state.tokens_issued + simulator.state.refreshes >= 2


def test_sddc_manager_answering_500_for_a_while_is_ridden_out(node, simulator, receiver, auth):
    simulator.state.add_failure("/v1/tasks/*", status=500, times=8, method="GET")
    requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()})
    [callback] = receiver.wait_for(1, timeout=30)
    assert callback.json()["status"] == "SUCCESSFUL"
    assert simulator.state.backups_started == 1


def test_callback_receiver_down_for_a_while_gets_it_later(node, simulator, receiver, auth):
    receiver.down_status = 503
    trigger_id = requests.post(node.url + "/v1/triggers", headers=auth,
                               json={"callbackUrl": receiver.url()}).json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        deliveries = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth).json()["deliveries"]
        if deliveries and len(deliveries[0]["attempts"]) >= 2:
            break
        time.sleep(0.1)
    assert deliveries[0]["attempts"][0]["statusCode"] == 503
    receiver.down_status = None
    [callback] = receiver.wait_for(1, timeout=30)
    assert callback.json()["trigger"]["id"] == trigger_id
    final = delivered_view(node, auth, trigger_id)["deliveries"][0]
    assert final["state"] == "DELIVERED"
    assert len({a["at"] for a in final["attempts"]}) == len(final["attempts"]) >= 3


def test_same_idempotency_key_gives_the_same_trigger_and_one_backup(node, simulator, receiver, auth):
    first = requests.post(node.url + "/v1/triggers", headers={**auth, "Idempotency-Key": "apply-42"}, json={})
    second = requests.post(node.url + "/v1/triggers", headers=auth, json={"idempotencyKey": "apply-42"})
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["duplicate"] is True
    done = requests.get(f"{node.url}/v1/triggers/{first.json()['id']}?wait=20", headers=auth).json()
    assert done["state"] == "DONE"
    assert simulator.state.backups_started == 1


def test_wait_returns_200_with_the_final_result(node, simulator, auth):
    response = requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={"reason": "ci"})
    assert response.status_code == 200
    assert response.json()["backup"]["status"] == "SUCCESSFUL"


def test_wait_that_runs_out_answers_202_still_running(node, simulator, auth):
    simulator.state.update_config(backup_seconds=5)
    response = requests.post(node.url + "/v1/triggers?wait=0.3", headers=auth, json={})
    assert response.status_code == 202
    assert response.json()["state"] in ("ACCEPTED", "ATTACHED")


def test_reuse_if_newer_than_answers_with_the_recent_backup(node, simulator, auth):
    requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={})
    reused = requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={"reuseIfNewerThan": "15m"}).json()
    assert reused["backup"]["status"] == "SUCCESSFUL"
    assert "Reused backup" in reused["trigger"]["note"]
    assert simulator.state.backups_started == 1


def test_a_trigger_during_a_running_backup_is_answered_attached_to_it_and_gets_its_result(
        node, simulator, receiver, auth):
    simulator.state.update_config(backup_seconds=1.5)
    first = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()}).json()
    deadline = time.monotonic() + 10
    while ((view := requests.get(f"{node.url}/v1/triggers/{first['id']}", headers=auth).json()).get("backup")
           or {}).get("status") != "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.02)
    backup_id, task_id = view["backup"]["backupId"], view["backup"]["id"]

    rider = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()})

    assert rider.status_code == 202
    assert rider.json()["state"] == "ATTACHED" and rider.json()["trigger"]["backupId"] == backup_id
    callbacks = receiver.wait_for(2)
    assert {c.json()["trigger"]["id"] for c in callbacks} == {first["id"], rider.json()["id"]}
    assert {c.json()["id"] for c in callbacks} == {task_id}
    assert backups_started(simulator) == 1
