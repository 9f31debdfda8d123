"""The provider's decisions without Terraform: which trigger views fail the apply and with what words,
what the state holds, and that a retried start reuses its idempotency key."""

from __future__ import annotations

import json

import pytest
import requests

from webhook.clients.terraform_provider import checks
from webhook.clients.terraform_provider.api import Connection, ServiceApi, ServiceError, Unreachable
from webhook.clients.terraform_provider.backup import failure_of, state_of

STATUS = "http://127.0.0.1:8080/v1/triggers/trg_1"


def view(state: str, backup: dict | None, **trigger: str) -> dict:
    return {"id": "trg_1", "state": state, "statusUrl": STATUS, "trigger": trigger, "backup": backup}


def test_a_successful_backup_is_no_failure_and_fills_the_state():
    done = view("DONE", {"outcome": "success", "status": "SUCCESSFUL", "id": "task-1", "backupId": "bkp_1",
                         "startedAt": "2026-11-30T07:00:00Z", "completedAt": "2026-11-30T07:01:00Z",
                         "resources": [{"type": "SDDC_MANAGER", "fqdn": "sddc.example", "resourceId": "r1"}]})
    assert failure_of(done, "1h") is None
    state = state_of(done, {"triggers": {"a": "1"}, "reason": "r", "timeout": "2m"})
    assert state == {"triggers": {"a": "1"}, "reason": "r", "elements": ["SDDC_MANAGER"], "reuse_if_newer_than": None,
                     "callback_url": None, "timeout": "2m", "id": "trg_1", "backup_id": "bkp_1",
                     "sddc_task_id": "task-1", "status": "SUCCESSFUL", "started_at": "2026-11-30T07:00:00Z",
                     "completed_at": "2026-11-30T07:01:00Z",
                     "resources": [{"type": "SDDC_MANAGER", "fqdn": "sddc.example", "resource_id": "r1"}]}


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "SUBMIT_FAILED", "TIMED_OUT"])
def test_every_bad_ending_fails_with_sddc_managers_words_and_the_status_url(status):
    failed = view("DONE", {"outcome": "failure", "status": status, "id": "task-9", "errors": [
        {"message": "Unable to reach the SFTP server", "remediationMessage": "Check the backup location"}]})
    summary, detail = failure_of(failed, "1h")
    assert summary == f"SDDC Manager backup {status}: Unable to reach the SFTP server"
    assert "Remediation: Check the backup location" in detail and STATUS in detail and "task-9" in detail


def test_a_backup_still_running_at_the_timeout_says_it_goes_on():
    summary, detail = failure_of(view("ATTACHED", {"outcome": "pending", "status": "IN_PROGRESS"}), "30s")
    assert summary == "the backup did not end within 30s"
    assert "IN_PROGRESS" in detail and "goes on" in detail and STATUS in detail


def test_a_skipped_trigger_without_a_backup_fails_with_the_services_note():
    summary, detail = failure_of(view("SKIPPED", None, note="cooldown: a backup ran 2 minutes ago"), "1h")
    assert "took no backup (SKIPPED)" in summary and "cooldown" in detail


@pytest.mark.parametrize(("config", "path"), [
    ({"elements": ["SDDC_MANAGER", "NSXT_MANAGER"]}, ["elements", (1,)]),
    ({"timeout": "0s"}, ["timeout"]),
    ({"reuse_if_newer_than": "15 parsecs"}, ["reuse_if_newer_than"]),
    ({"callback_url": "example.com/x"}, ["callback_url"]),
    ({"reason": ""}, ["reason"]),
])
def test_resource_checks_name_the_attribute(config, path):
    [problem] = checks.backup(config)
    assert problem.path == path


def test_values_not_known_yet_are_checked_later():
    from tf.types import Unknown

    assert checks.backup({"elements": Unknown, "timeout": Unknown, "callback_url": Unknown}) == []
    assert checks.provider({"endpoint": None, "request_timeout": None}) == []


class FlakySession:
    """Loses the first answer (as a dropped connection does), then answers with a trigger."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        self.bodies.append(kwargs["json"])
        if len(self.bodies) == 1:
            raise requests.ConnectionError("connection reset")
        response = requests.Response()
        response.status_code = 202
        response._content = json.dumps({"id": "trg_1", "state": "ACCEPTED"}).encode()
        return response


def test_a_retried_start_sends_the_same_idempotency_key(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _: None)
    api = ServiceApi(Connection("http://127.0.0.1:9", "secret-token", True, 5.0))
    api.http = FlakySession()  # type: ignore[assignment]
    started = api.start_backup({"reason": "r"}, "terraform-key-1", deadline=float("inf"))
    assert started["id"] == "trg_1"
    assert [b["idempotencyKey"] for b in api.http.bodies] == ["terraform-key-1", "terraform-key-1"]


def test_errors_never_carry_the_token():
    api = ServiceApi(Connection("http://127.0.0.1:9", "secret-token-value", True, 0.5))
    with pytest.raises(Unreachable) as caught:
        api.trigger("trg_1")
    assert "secret-token-value" not in caught.value.summary + caught.value.detail
    assert isinstance(caught.value, ServiceError)
