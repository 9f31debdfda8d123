"""The smaller findings of issue 13, each over real HTTP with the worker running: a redirecting callback
gives up at once with the reason, "already in progress" with no task listed yet is retried, and a
bare ``*`` allowlist does not open loopback to callbacks."""

from __future__ import annotations

import dataclasses
import time

import requests

from tests.support.node import InProcessNode


def settled(node: InProcessNode, auth: dict[str, str], trigger_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth, timeout=10).json()
        if doc["deliveries"] and doc["deliveries"][0]["state"] != "PENDING":
            return doc
        time.sleep(0.1)
    raise AssertionError(f"delivery not settled: {doc}")


def test_a_redirecting_callback_gives_up_at_once_with_the_reason(node, receiver, auth):
    receiver.fail_next(1, status=302, headers={"Location": "http://169.254.169.254/"})
    trigger_id = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()},
                               timeout=10).json()["id"]
    [delivery] = settled(node, auth, trigger_id)["deliveries"]
    assert delivery["state"] == "GAVE_UP" and len(delivery["attempts"]) == 1
    assert "redirect" in delivery["lastError"]


def test_already_in_progress_with_no_task_listed_is_retried_not_failed(make_settings, simulator, receiver, auth):
    simulator.state.add_failure("/v1/backups/tasks", status=400, times=1, method="POST",
                                error_code="BACKUP_ALREADY_IN_PROGRESS",
                                message="A backup of SDDC Manager is already in progress")
    node = InProcessNode(make_settings(), start_workers=False)
    [worker] = node.workers
    worker.backups.config = dataclasses.replace(worker.config, submit_retry_delay=0.3)
    node.start().start_workers()
    try:
        trigger_id = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()},
                                   timeout=10).json()["id"]
        [callback] = receiver.wait_for(1, timeout=20)
        assert callback.json()["trigger"]["id"] == trigger_id
        assert callback.json()["status"] == "SUCCESSFUL"
        assert simulator.state.backups_started == 1
    finally:
        node.stop()


def test_a_bare_star_allowlist_does_not_cover_loopback(make_settings, receiver, auth):
    node = InProcessNode(make_settings(callback_allowed_hosts=["*"])).start()
    try:
        answer = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": receiver.url()},
                               timeout=10)
        assert answer.status_code == 400
        assert "loopback" in answer.json()["message"] and answer.json()["remediationMessage"]
    finally:
        node.stop()
