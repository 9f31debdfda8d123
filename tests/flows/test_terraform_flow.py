"""HCP Terraform run tasks end to end: a signed request in, PATCHes out to a local stand-in for
HCP Terraform (the test Receiver), the backup in the SDDC Manager simulator. Plus /hooks/terraform
and /v1/backups/latest."""

from __future__ import annotations

import json
import logging
import time

import pytest
import requests

from webhook.logs import JsonFormatter
from webhook.sources import terraform

from tests.support.node import InProcessNode

HMAC_KEY = "rt-hmac-key-0123456789abcdef0123456789"
ACCESS_TOKEN = "runtask.atlasv1.only-for-this-task-9f8e7d"


@pytest.fixture
def tfc_node(make_settings, receiver):
    """A node whose run tasks may call back to the receiver (an exact host:port, so plain http is allowed)."""
    nodes: list[InProcessNode] = []

    def start(*, workers: bool = True, **overrides) -> InProcessNode:
        values = {"tfc_hmac_key": HMAC_KEY, "tfc_hosts": [receiver.host], **overrides}
        node = InProcessNode(make_settings(**values), start_workers=workers).start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def payload(receiver, task_result_id="taskrs-flow-1", **changes):
    return {
        "payload_version": 1, "stage": "pre_apply", "access_token": ACCESS_TOKEN,
        "capabilities": {"outcomes": True}, "is_speculative": False, "organization_name": "acme",
        "workspace_id": "ws-123", "workspace_name": "vcf-prod", "run_id": "run-abc",
        "run_app_url": "https://app.terraform.io/app/acme/vcf-prod/runs/run-abc", "run_created_by": "alice",
        "run_message": "Add cluster wld01-cl02", "task_result_id": task_result_id,
        "task_result_callback_url": receiver.url(f"/api/v2/task-results/{task_result_id}/callback"),
        "task_result_enforcement_level": "mandatory", **changes,
    }


def post_run_task(node, body: dict, *, key: str = HMAC_KEY, signature: str | None = None) -> requests.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "TFC/1.0 (+https://app.terraform.io; TFC)",
               terraform.SIGNATURE_HEADER: terraform.signature(key, raw) if signature is None else signature}
    return requests.post(node.url + "/hooks/terraform/run-task", data=raw, headers=headers, timeout=10)


def attributes(received) -> dict:
    return received.json()["data"]["attributes"]


def wait_until(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def final_deliveries_done(node, trigger_id: str) -> bool:
    deliveries = node.store.deliveries_of_trigger(trigger_id)
    return bool(deliveries) and all(d.state.value != "PENDING" for d in deliveries
                                    if d.event.value != "backup.deadline")


@pytest.fixture
def log_lines():
    """Every line the service logs at DEBUG and up, formatted as written (call after the node is built:
    building it sets the configured level)."""
    lines: list[str] = []
    logger = logging.getLogger("webhook")
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logger.addHandler(handler)
    level = logger.level

    def capture() -> list[str]:
        logger.setLevel(logging.DEBUG)
        return lines

    yield capture
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_answers_200_at_once_then_patches_running_then_passed(tfc_node, simulator, receiver, log_lines):
    node = tfc_node(workers=False)
    logged = log_lines()
    answer = post_run_task(node, payload(receiver))
    assert answer.status_code == 200 and answer.json()["state"] == "ACCEPTED"
    assert simulator.state.backups_started == 0  # nothing but the store on the request path
    node.start_workers()

    running, passed = receiver.wait_for(2)
    for patch in (running, passed):
        assert patch.method == "PATCH" and patch.path == "/api/v2/task-results/taskrs-flow-1/callback"
        assert patch.headers["Content-Type"] == "application/vnd.api+json"
        assert patch.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert patch.json()["data"]["type"] == "task-results"
        assert attributes(patch)["url"] == answer.json()["statusUrl"]
    task_id = simulator.state.task_views()[0]["id"]
    assert attributes(running)["status"] == "running" and task_id in attributes(running)["message"]
    assert attributes(passed)["status"] == "passed"
    assert attributes(passed)["message"].startswith(f"SDDC Manager backup SUCCESSFUL (task {task_id}) in ")
    assert simulator.state.backups_started == 1

    trigger_id = answer.json()["triggerId"]
    wait_until(lambda: final_deliveries_done(node, trigger_id))
    trigger = node.store.get_trigger(trigger_id)
    assert trigger.source == "terraform-run-task" and trigger.caller == "tfc:acme"
    assert trigger.context["workspace"] == "vcf-prod" and trigger.context["runId"] == "run-abc"
    assert "access_token" not in trigger.callback.options
    assert all("access_token" not in d.target.options for d in node.store.deliveries_of_trigger(trigger_id))
    assert any('"tfc.run_task"' in line for line in logged)
    assert not any(ACCESS_TOKEN in line for line in logged)


def test_failed_backup_patches_failed_with_sddc_managers_message(tfc_node, simulator, receiver):
    simulator.state.update_config(outcome="FAILED")
    node = tfc_node()
    post_run_task(node, payload(receiver))
    running, failed = receiver.wait_for(2)
    assert attributes(running)["status"] == "running"
    message = attributes(failed)["message"]
    assert attributes(failed)["status"] == "failed"
    assert message.startswith("SDDC Manager backup FAILED")
    assert "unable to transfer backup file to SFTP server" in message
    assert "Remediation: Verify the backup configuration" in message


def test_backup_outlasting_the_deadline_is_reported_failed_once(tfc_node, simulator, receiver):
    simulator.state.update_config(backup_seconds=2.0)
    node = tfc_node(tfc_deadline=0.5)
    trigger_id = post_run_task(node, payload(receiver)).json()["triggerId"]
    running, failed = receiver.wait_for(2)
    assert attributes(running)["status"] == "running"
    assert attributes(failed)["status"] == "failed"
    assert "did not end within 0.5 s" in attributes(failed)["message"]
    assert "is IN_PROGRESS" in attributes(failed)["message"]

    backup_id = node.store.get_trigger(trigger_id).backup_id
    wait_until(lambda: node.store.get_backup(backup_id).state.value == "SUCCESSFUL")
    time.sleep(0.8)  # a few worker cycles after the end: nothing more is owed
    assert len(receiver.received) == 2
    trigger = node.store.get_trigger(trigger_id)
    assert trigger.state.value == "DONE" and "did not end within" in trigger.note
    assert sorted(d.event.value for d in node.store.deliveries_of_trigger(trigger_id)) == [
        "backup.deadline", "backup.started"]


def test_retried_request_starts_no_second_backup(tfc_node, simulator, receiver):
    node = tfc_node()
    first = post_run_task(node, payload(receiver))
    again = post_run_task(node, payload(receiver))
    assert again.status_code == 200
    assert again.json()["triggerId"] == first.json()["triggerId"] and again.json()["duplicate"] is True
    receiver.wait_for(2)
    wait_until(lambda: final_deliveries_done(node, first.json()["triggerId"]))
    time.sleep(0.3)
    assert [attributes(r)["status"] for r in receiver.received] == ["running", "passed"]
    assert simulator.state.backups_started == 1


def test_callback_to_a_host_not_configured_is_refused_and_nothing_starts(tfc_node, simulator, receiver):
    node = tfc_node()
    body = payload(receiver, task_result_callback_url="http://127.0.0.1:9/api/v2/task-results/x/callback")
    answer = post_run_task(node, body)
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "VCFBACKUP_CALLBACK_REFUSED"
    assert "VCFBACKUP_TFC_HOSTS" in answer.json()["remediationMessage"]
    time.sleep(0.3)
    assert node.store.latest_trigger() is None
    assert simulator.state.backups_started == 0 and receiver.received == []


@pytest.mark.parametrize("signature", [None, "", "0" * 128])
def test_unsigned_or_wrongly_signed_requests_get_401_and_nothing_happens(tfc_node, simulator, receiver, signature):
    node = tfc_node()
    body = json.dumps(payload(receiver)).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[terraform.SIGNATURE_HEADER] = signature
    answer = requests.post(node.url + "/hooks/terraform/run-task", data=body, headers=headers, timeout=10)
    assert answer.status_code == 401 and answer.json()["errorCode"] == "VCFBACKUP_UNAUTHENTICATED"
    assert ACCESS_TOKEN not in answer.text
    time.sleep(0.2)
    assert node.store.latest_trigger() is None and simulator.state.backups_started == 0


def test_without_a_configured_hmac_key_even_a_signed_request_is_refused(tfc_node, receiver):
    node = tfc_node(tfc_hmac_key=None)
    assert post_run_task(node, payload(receiver), key="anything").status_code == 401


def test_verification_request_gets_200_and_starts_nothing(tfc_node, simulator, receiver):
    node = tfc_node()
    answer = post_run_task(node, {"payload_version": 1, "access_token": "test-token"})
    assert answer.status_code == 200 and answer.json() == {"state": "verified"}
    time.sleep(0.2)
    assert node.store.latest_trigger() is None and receiver.received == [] and simulator.state.backups_started == 0


@pytest.mark.parametrize(("changes", "why"), [
    ({"stage": "post_plan"}, "No backup at the post_plan stage"),
    ({"stage": "pre_plan"}, "No backup at the pre_plan stage"),
    ({"stage": "post_apply"}, "No backup at the post_apply stage"),
    ({"is_speculative": True}, "Speculative plan"),
])
def test_stages_without_backup_and_speculative_plans_pass_at_once(tfc_node, simulator, receiver, changes, why):
    node = tfc_node()
    answer = post_run_task(node, payload(receiver, **changes))
    assert answer.status_code == 200 and answer.json()["state"] == "SKIPPED" and why in answer.json()["note"]
    [passed] = receiver.wait_for(1)
    assert attributes(passed)["status"] == "passed" and why in attributes(passed)["message"]
    assert passed.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert simulator.state.backups_started == 0


def test_terraform_hook_records_the_workspace_for_the_audit_trail(node, simulator, auth):
    assert requests.post(node.url + "/hooks/terraform", json={"workspace": "vcf-prod"}).status_code == 401
    answer = requests.post(node.url + "/hooks/terraform?wait=20", headers=auth, json={
        "workspace": "vcf-prod", "runId": "run-42", "moduleAddress": "module.pre_change_backup",
        "reason": "resize cluster", "idempotencyKey": "run-42"})
    assert answer.status_code == 200
    trigger = answer.json()["trigger"]
    assert trigger["source"] == "terraform" and trigger["caller"] == "ci" and trigger["reason"] == "resize cluster"
    assert trigger["context"] == {"workspace": "vcf-prod", "runId": "run-42",
                                  "moduleAddress": "module.pre_change_backup"}
    assert answer.json()["backup"]["status"] == "SUCCESSFUL"
    listed = requests.get(node.url + "/v1/triggers?source=terraform", headers=auth).json()["items"]
    assert [t["trigger"]["context"]["workspace"] for t in listed] == ["vcf-prod"]


def test_latest_backup_endpoint_reports_status_and_age(node, simulator, auth):
    assert requests.get(node.url + "/v1/backups/latest").status_code == 401
    missing = requests.get(node.url + "/v1/backups/latest", headers=auth)
    assert missing.status_code == 404 and "no SUCCESSFUL backup" in missing.json()["message"]
    done = requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={}).json()
    latest = requests.get(node.url + "/v1/backups/latest", headers=auth).json()
    assert latest["status"] == "SUCCESSFUL" and latest["id"] == done["backup"]["id"]
    assert latest["backupId"] == done["backup"]["backupId"] and latest["completedAt"]
    assert 0 <= latest["ageSeconds"] < 30
    assert simulator.state.backups_started == 1


def test_latest_backup_filters_by_elements_and_refuses_unknown_ones(node, simulator, auth):
    requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={})
    same = requests.get(node.url + "/v1/backups/latest?elements=SDDC_MANAGER", headers=auth)
    assert same.status_code == 200 and same.json()["status"] == "SUCCESSFUL"
    unknown = requests.get(node.url + "/v1/backups/latest?elements=SDDC_MANAGER,VCENTER", headers=auth)
    assert unknown.status_code == 400 and "VCENTER" in unknown.json()["message"]
    assert unknown.json()["remediationMessage"]
