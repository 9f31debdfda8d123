"""Run task verification and translation, PATCH wording, and the notifier's reading of answers."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest

from webhook.adapters.bounded_http import Answer
from webhook.adapters.tfc_notifier import result_of
from webhook.core.errors import CallbackRefused, InvalidRequest, Unauthenticated
from webhook.sources import terraform
from webhook.sources.terraform_messages import task_result

# trigger-protocols.md section 3: self-computed check vector (Python and openssl agree), not vendor-published.
SELF_CHECK_KEY = "test-hmac-key"
SELF_CHECK_BODY = b'{"payload_version":1,"access_token":"test-token"}'
SELF_CHECK_SIGNATURE = ("42f5029f2ab892eca9d80a5893102ddd686a6bc2e030acc568a1d57613e35a04"
                        "f47bea4303fabecda1e11c943e19de51f8d096dd5efb15c4e716168f45356945")

# The documentation's sample payload (stage post_plan), with the "capabilitites" spelling of go-tfe.
SAMPLE = {
    "payload_version": 1,
    "stage": "post_plan",
    "access_token": "4QEuyyxug1f2rw.atlasv1.iDyxqhXGVZ0ykes53YdQyHyYtFOrdAWNBxcVUgWvzb64NFHjcquu8gJMEdUwoSLRu4Q",
    "capabilitites": {"outcomes": True},
    "configuration_version_download_url": "https://app.terraform.io/api/v2/configuration-versions/cv-x/download",
    "configuration_version_id": "cv-ntv3HbhJqvFzamy7",
    "is_speculative": False,
    "organization_name": "hashicorp",
    "plan_json_api_url": "https://app.terraform.io/api/v2/plans/plan-6AFmRJW1PFJ7qbAh/json-output",
    "run_app_url": "https://app.terraform.io/app/hashicorp/my-workspace/runs/run-i3Df5to9ELvibKpQ",
    "run_created_at": "2021-09-02T14:47:13.036Z",
    "run_created_by": "username",
    "run_id": "run-i3Df5to9ELvibKpQ",
    "run_message": "Triggered via UI",
    "task_result_callback_url":
        "https://app.terraform.io/api/v2/task-results/5ea8d46c-2ceb-42cd-83f2-82e54697bddd/callback",
    "task_result_enforcement_level": "mandatory",
    "task_result_id": "taskrs-2nH5dncYoXaMVQmJ",
    "vcs_branch": "main",
    "vcs_commit_url": None,
    "vcs_pull_request_url": None,
    "vcs_repo_url": "https://github.com/hashicorp/terraform-random",
    "workspace_app_url": "https://app.terraform.io/app/hashicorp/my-workspace",
    "workspace_id": "ws-ck4G5bb1Yei5szRh",
    "workspace_name": "tfr_github_0",
    "workspace_working_directory": "/terraform",
    "a_key_from_the_future": {"nested": [1, 2]},
}
CONFIG = terraform.RunTaskConfig(hmac_key="k", backup_stages=frozenset({"pre_apply"}),
                                 hosts=("app.terraform.io", "*.tfe.example.com", "127.0.0.1:8443"))


def openssl_hmac_sha512(key: str, body: bytes) -> str:
    out = subprocess.run(["openssl", "dgst", "-sha512", "-hmac", key], input=body, capture_output=True,
                         check=True).stdout.decode()
    return out.strip().rsplit(" ", 1)[-1]  # "SHA2-512(stdin)= <hex>" (the label varies by version)


def test_signature_of_a_vector_we_computed_matches_openssl():
    key, body = "rt-hmac-6f1d2c", json.dumps(SAMPLE, separators=(",", ":")).encode()
    ours = terraform.signature(key, body)
    assert ours == openssl_hmac_sha512(key, body)
    assert len(ours) == 128 and ours == ours.lower()
    terraform.verify_signature(key, body, ours)


def test_published_self_check_vector_verifies_and_matches_openssl():
    assert terraform.signature(SELF_CHECK_KEY, SELF_CHECK_BODY) == SELF_CHECK_SIGNATURE
    assert openssl_hmac_sha512(SELF_CHECK_KEY, SELF_CHECK_BODY) == SELF_CHECK_SIGNATURE
    terraform.verify_signature(SELF_CHECK_KEY, SELF_CHECK_BODY, SELF_CHECK_SIGNATURE.upper())


@pytest.mark.parametrize("presented", [None, "", "   ", SELF_CHECK_SIGNATURE[:-1] + "0",
                                       "sha512=" + SELF_CHECK_SIGNATURE, "é" * 128])
def test_missing_or_wrong_signature_is_unauthenticated(presented):
    with pytest.raises(Unauthenticated):
        terraform.verify_signature(SELF_CHECK_KEY, SELF_CHECK_BODY, presented)


def test_a_body_changed_by_one_byte_fails_the_signature():
    with pytest.raises(Unauthenticated, match="does not match"):
        terraform.verify_signature(SELF_CHECK_KEY, SELF_CHECK_BODY + b" ", SELF_CHECK_SIGNATURE)


@pytest.mark.parametrize("key", [None, ""])
def test_without_a_configured_key_everything_is_refused(key):
    with pytest.raises(Unauthenticated, match="No run task HMAC key") as refused:
        terraform.verify_signature(key, SELF_CHECK_BODY, SELF_CHECK_SIGNATURE)
    assert "VCFBACKUP_TFC_HMAC_KEY" in refused.value.remediation


def test_verification_request_is_recognised_by_its_test_token():
    assert terraform.parse_run_task(SELF_CHECK_BODY).is_verification
    assert not terraform.parse_run_task(json.dumps(SAMPLE).encode()).is_verification


@pytest.mark.parametrize("spelling", ["capabilities", "capabilitites"])
def test_both_spellings_of_capabilities_are_read(spelling):
    body = {k: v for k, v in SAMPLE.items() if k != "capabilitites"} | {spelling: {"outcomes": True}}
    assert terraform.parse_run_task(json.dumps(body).encode()).capabilities.outcomes is True


def test_the_documented_sample_parses_and_unknown_keys_are_ignored():
    run = terraform.parse_run_task(json.dumps(SAMPLE).encode())
    assert run.stage == "post_plan" and run.task_result_id == "taskrs-2nH5dncYoXaMVQmJ"
    assert run.missing() == []
    assert SAMPLE["access_token"] not in repr(run)


def test_malformed_payloads_are_invalid_requests():
    with pytest.raises(InvalidRequest):
        terraform.parse_run_task(b"[1, 2]")
    with pytest.raises(InvalidRequest):
        terraform.parse_run_task(b'{"stage": ["pre_apply"]}')
    assert terraform.parse_run_task(b'{"stage": "pre_apply"}').missing() == [
        "organization_name", "task_result_id", "task_result_callback_url", "access_token"]


@pytest.mark.parametrize(("stage", "speculative", "backup"), [
    ("pre_plan", False, False), ("post_plan", False, False), ("pre_apply", False, True),
    ("post_apply", False, False), ("pre_apply", True, False),
])
def test_only_the_configured_stages_of_real_runs_take_a_backup(stage, speculative, backup):
    run = terraform.RunTaskRequest.model_validate(SAMPLE | {"stage": stage, "is_speculative": speculative})
    reason = terraform.skip_reason(run, CONFIG)
    assert (reason is None) is backup
    if speculative:
        assert "Speculative plan" in reason
    elif not backup:
        assert f"No backup at the {stage} stage" in reason and "pre_apply" in reason


def test_other_stages_can_be_configured_to_take_backups():
    config = terraform.RunTaskConfig(backup_stages=frozenset({"pre_plan", "pre_apply"}))
    run = terraform.RunTaskRequest.model_validate(SAMPLE | {"stage": "pre_plan"})
    assert terraform.skip_reason(run, config) is None


@pytest.mark.parametrize("url", [
    "https://app.terraform.io/api/v2/task-results/x/callback",
    "https://tfe.tfe.example.com/api/v2/task-results/x/callback",
    "http://127.0.0.1:8443/api/v2/task-results/x/callback",
])
def test_allowed_callback_hosts(url):
    assert CONFIG.check_callback_url(url) == url


@pytest.mark.parametrize(("url", "why"), [
    ("https://evil.example.com/api/v2/task-results/x/callback", "not on the allowlist"),
    ("http://app.terraform.io/api/v2/task-results/x/callback", "plain http"),
    ("http://tfe.tfe.example.com/callback", "plain http"),
    ("https://127.0.0.1:9443/callback", "not on the allowlist"),
    ("https://user:pw@app.terraform.io/callback", "credentials"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("ftp://app.terraform.io/callback", "absolute https URL"),
    ("https://app.terraform.io:99999/callback", "not a valid URL"),
])
def test_refused_callback_urls_say_why(url, why):
    with pytest.raises(CallbackRefused, match=why):
        CONFIG.check_callback_url(url)


def test_a_run_task_becomes_a_trigger_with_its_terraform_context_and_callback():
    run = terraform.RunTaskRequest.model_validate(SAMPLE | {"stage": "pre_apply"})
    received = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    trigger = terraform.to_trigger(run, terraform.RunTaskConfig(deadline=540), received_at=received,
                                   status_url=lambda i: f"https://svc/v1/triggers/{i}")
    assert trigger.source == "terraform-run-task" and trigger.caller == "tfc:hashicorp"
    assert trigger.dedupe_key == "taskrs-2nH5dncYoXaMVQmJ"
    assert trigger.context | {} == trigger.context and trigger.context["workspace"] == "tfr_github_0"
    assert {"organization", "workspaceId", "runId", "runUrl", "stage", "createdBy"} <= set(trigger.context)
    assert "Triggered via UI" in (trigger.reason or "")
    callback = trigger.callback
    assert callback.kind == "tfc_run_task" and callback.url == SAMPLE["task_result_callback_url"]
    assert callback.options["access_token"] == SAMPLE["access_token"]
    assert callback.options["deadline"] == "2026-11-27T12:09:00Z"
    assert callback.options["expires_at"] == "2026-11-27T12:10:00Z"
    assert callback.options["status_url"] == f"https://svc/v1/triggers/{trigger.id}"
    assert callback.options["forget_after_final"] == ["access_token"]


def doc(status="SUCCESSFUL", outcome="success", **extra):
    return {"id": "task-77", "status": status, "outcome": outcome, "startedAt": "2026-11-27T12:00:00Z",
            "completedAt": "2026-11-27T12:03:05Z", **extra}


def test_patch_documents_are_json_api_task_results():
    started = task_result("backup.started", doc("IN_PROGRESS", "pending"), {"status_url": "https://svc/t/1"})
    assert started == {"data": {"type": "task-results", "attributes": {
        "status": "running", "message": "SDDC Manager backup started (task task-77); waiting for it to end.",
        "url": "https://svc/t/1"}}}
    passed = task_result("backup.completed", doc(), {})["data"]["attributes"]
    assert passed == {"status": "passed", "message": "SDDC Manager backup SUCCESSFUL (task task-77) in 3 min 5 s."}


def test_failed_message_carries_sddc_managers_error_and_remediation():
    errors = [{"errorCode": "SDDC_MANAGER_BACKUP_FAILED", "message": "Backup failed: SFTP unreachable",
               "remediationMessage": "Check the SFTP server."}]
    attributes = task_result("backup.completed", doc("FAILED", "failure", errors=errors), {})["data"]["attributes"]
    assert attributes["status"] == "failed"
    assert attributes["message"] == ("SDDC Manager backup FAILED (task task-77) in 3 min 5 s. Backup failed: "
                                     "SFTP unreachable Remediation: Check the SFTP server.")


def test_deadline_and_decided_statuses():
    deadline = task_result("backup.deadline", doc("IN_PROGRESS", "pending", note="Too slow."), {})
    assert deadline["data"]["attributes"] == {
        "status": "failed", "message": "Too slow. SDDC Manager task task-77 is IN_PROGRESS."}
    decided = task_result("backup.completed", {"runTask": {"status": "passed", "message": "No backup here."}}, {})
    assert decided["data"]["attributes"] == {"status": "passed", "message": "No backup here."}


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {k.lower(): v for k, v in (headers or {}).items()}, body)


@pytest.mark.parametrize(("status", "ok", "permanent"), [
    (200, True, False), (401, False, True), (422, False, True), (404, False, True), (302, False, True),
    (429, False, False), (500, False, False), (503, False, False),
])
def test_callback_answers_map_to_done_final_or_retry(status, ok, permanent):
    result = result_of(response(status))
    assert (result.ok, result.permanent, result.status_code) == (ok, permanent, status)


def test_retry_after_and_json_api_error_detail_are_kept():
    assert result_of(response(429, headers={"Retry-After": "7"})).retry_after == 7.0
    body = json.dumps({"errors": [{"status": "422", "title": "invalid attribute", "detail": "Status is final"}]})
    assert result_of(response(422, body.encode())).error == "HCP Terraform answered 422: Status is final"


def test_terraform_hook_body_is_the_generic_body_plus_terraform_context():
    body = terraform.parse_hook_body(b'{"workspace": "vcf-prod", "runId": "run-9", "moduleAddress": "module.dr"}')
    trigger = terraform.hook_trigger(body, caller="ci", received_at=datetime.now(UTC), headers={})
    assert trigger.source == "terraform"
    assert trigger.context == {"workspace": "vcf-prod", "runId": "run-9", "moduleAddress": "module.dr"}
    assert trigger.reason == "Terraform pre-change backup (workspace vcf-prod, runId run-9, moduleAddress module.dr)"
    with pytest.raises(InvalidRequest, match="workspaces"):
        terraform.parse_hook_body(b'{"workspaces": "typo"}')
