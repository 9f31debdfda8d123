"""The Terraform files: every one parses, the module's local-exec really works, tf-status speaks the
external data source's protocol. Terraform itself is not installed, so the module's provisioner is
read from the parsed HCL and run the way Terraform runs it: its interpreter and command, its
environment merged over the inherited one with null entries left out (local-exec's own rule)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import requests

from webhook.clients.http import ExitCode

from tests.conftest import API_TOKEN

ROOT = Path(__file__).resolve().parents[2] / "terraform"
MODULE = ROOT / "modules" / "pre-change-backup"
BIN = Path(sys.executable).parent  # the venv's bin, where the vcf-backup-webhook console script lives
TF_FILES = sorted(ROOT.rglob("*.tf"))


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle)


def blocks(document: dict[str, Any], kind: str) -> dict[str, Any]:
    """``{"name": body}`` for labelled blocks (variable, module, output, data/resource by type)."""
    found: dict[str, Any] = {}
    for entry in document.get(kind, []):
        for label, body in entry.items():
            found[label.strip('"')] = body
    return found


def value(raw: Any, names: dict[str, Any]) -> Any:
    """Evaluate what python-hcl2 gives for an attribute: literals, quoted templates and plain references.

    Anything else fails the test: the module's command and environment are kept that simple on
    purpose, so what runs here is what Terraform runs.
    """
    if not isinstance(raw, str):
        return raw
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        return template(raw[1:-1], names)
    match = re.fullmatch(r"\$\{([^{}]*)\}", raw)
    if match:
        return lookup(match.group(1).strip(), names)
    raise AssertionError(f"unsupported HCL expression {raw!r}")


def template(text: str, names: dict[str, Any]) -> str:
    out, i = [], 0
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
    while i < len(text):
        if text.startswith("$${", i):
            out.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.index("}", i)
            out.append(str(lookup(text[i + 2:end].strip(), names)))
            i = end + 1
        elif text[i] == "\\":
            out.append(escapes[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def lookup(name: str, names: dict[str, Any]) -> Any:
    assert name in names, f"{name} is not a plain reference the test can substitute"
    return names[name]


def module_variables(inputs: dict[str, Any]) -> dict[str, Any]:
    """var.* as Terraform would see them: the defaults from variables.tf, overridden by ``inputs``."""
    declared = blocks(load(MODULE / "variables.tf"), "variable")
    names: dict[str, Any] = {}
    for name, body in declared.items():
        if name in inputs:
            names[f"var.{name}"] = inputs[name]
        else:
            assert "default" in body, f"required variable {name} needs a value in the test"
            names[f"var.{name}"] = value(body["default"], {})
    return names | {"terraform.workspace": "default", "path.module": str(MODULE)}


def local_exec() -> dict[str, Any]:
    resource = blocks(load(MODULE / "main.tf"), "resource")["terraform_data"]
    [provisioner] = resource['"backup"']["provisioner"]
    return provisioner['"local-exec"']


def run_module(inputs: dict[str, Any], inherited: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the module's provisioner exactly as Terraform would, with these module inputs."""
    exec_block = local_exec()
    names = module_variables(inputs)
    interpreter = [value(part, names) for part in exec_block["interpreter"]]
    command = value(exec_block["command"], names)
    environment = {key: value(raw, names) for key, raw in exec_block["environment"].items()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env |= inherited or {}  # Terraform's own environment
    env |= {k: str(v) for k, v in environment.items() if v is not None}  # null entries are left out
    return subprocess.run([*interpreter, command], env=env, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------------------- parsing and shape
@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_tf_file_parses(path):
    assert isinstance(load(path), dict)


def test_there_is_a_module_and_every_example():
    names = {str(p.relative_to(ROOT)) for p in TF_FILES}
    assert {"modules/pre-change-backup/main.tf", "modules/pre-change-backup/variables.tf",
            "modules/pre-change-backup/outputs.tf", "modules/pre-change-backup/versions.tf",
            "examples/local-exec/main.tf", "examples/hcp-run-task/main.tf", "examples/http/main.tf",
            "examples/external/main.tf", "examples/provider/main.tf"} <= names


def test_module_needs_terraform_1_4_and_no_provider():
    [terraform_block] = load(MODULE / "versions.tf")["terraform"]
    assert value(terraform_block["required_version"], {}) == ">= 1.4"
    assert "required_providers" not in terraform_block


def test_module_variables_are_described_typed_and_the_token_is_sensitive():
    declared = blocks(load(MODULE / "variables.tf"), "variable")
    for name, body in declared.items():
        assert body.get("description") and body.get("type"), name
    assert declared["api_token"]["sensitive"] is True
    for name in ("service_url", "api_token", "reason", "timeout_seconds", "reuse_if_newer_than", "executable"):
        assert declared[name].get("validation"), f"{name} has no validation"


def test_the_token_and_url_never_reach_the_command_line():
    exec_block = local_exec()
    command = exec_block["command"]
    assert command.startswith('"${var.executable} trigger --wait')
    assert "api_token" not in command and "service_url" not in command
    assert exec_block["environment"]["VCFBACKUP_TRIGGER_TOKEN"] == "${var.api_token}"
    assert exec_block["environment"]["VCFBACKUP_TRIGGER_URL"] == "${var.service_url}"
    resource = blocks(load(MODULE / "main.tf"), "resource")["terraform_data"]['"backup"']
    assert resource["triggers_replace"] == "${var.triggers_replace}"


def test_local_exec_example_orders_the_change_after_the_backup():
    example = load(ROOT / "examples" / "local-exec" / "main.tf")
    module = blocks(example, "module")["pre_change_backup"]
    assert value(module["source"], {}) == "../../modules/pre-change-backup"
    change = blocks(example, "resource")["terraform_data"]['"cluster_change"']
    assert change["depends_on"] == ["${module.pre_change_backup}"]


def test_hcp_example_registers_a_mandatory_pre_apply_run_task():
    example = load(ROOT / "examples" / "hcp-run-task" / "main.tf")
    resources = blocks(example, "resource")
    assert '"vcf_backup"' in resources["tfe_organization_run_task"]
    task = resources["tfe_organization_run_task"]['"vcf_backup"']
    assert "/hooks/terraform/run-task" in task["url"] and task["hmac_key"] == "${var.hmac_key}"
    attachment = resources["tfe_workspace_run_task"]['"vcf_backup"']
    assert [value(s, {}) for s in attachment["stages"]] == ["pre_apply"]
    assert attachment["enforcement_level"] == "${var.enforcement_level}"
    assert value(blocks(example, "variable")["enforcement_level"]["default"], {}) == "mandatory"
    assert blocks(example, "variable")["hmac_key"]["sensitive"] is True


def test_http_example_checks_the_status_code_in_a_postcondition():
    data = blocks(load(ROOT / "examples" / "http" / "main.tf"), "data")["http"]['"latest_backup"']
    [postcondition] = data["lifecycle"][0]["postcondition"]
    assert "self.status_code == 200" in postcondition["condition"]
    assert "/v1/backups/latest" in data["url"]


def test_external_example_runs_tf_status_under_a_freshness_precondition():
    example = load(ROOT / "examples" / "external" / "main.tf")
    data = blocks(example, "data")["external"]['"latest_backup"']
    assert [value(p, {}) for p in data["program"]] == ["vcf-backup-webhook", "tf-status"]
    change = blocks(example, "resource")["terraform_data"]['"cluster_change"']
    [precondition] = change["lifecycle"][0]["precondition"]
    assert "age_seconds" in precondition["condition"] and "SUCCESSFUL" in precondition["condition"]


# ---------------------------------------------------------------------------- the module's command, for real
def test_module_command_takes_a_backup_and_exits_0(node, simulator):
    result = run_module({"service_url": node.url, "api_token": API_TOKEN, "reason": "resize wld01",
                         "triggers_replace": "abc"})
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert simulator.state.backups_started == 1
    trigger = node.store.latest_trigger()
    assert trigger.state.value == "DONE" and trigger.reason == "resize wld01 (workspace default)"
    assert json.loads(result.stdout)["status"] == "SUCCESSFUL"


def test_module_command_exits_non_zero_when_the_backup_fails(node, simulator):
    simulator.state.update_config(outcome="FAILED")
    result = run_module({"service_url": node.url, "api_token": API_TOKEN, "triggers_replace": "abc"})
    assert result.returncode == ExitCode.FAILED
    assert "backup FAILED" in result.stderr and "SFTP" in result.stderr


def test_module_uses_the_token_from_terraforms_environment_when_the_variable_is_null(node, simulator):
    result = run_module({"service_url": node.url, "triggers_replace": "abc"},
                        inherited={"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN})
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert simulator.state.backups_started == 1


def test_module_refuses_a_wrong_token_with_exit_3(node, simulator):
    result = run_module({"service_url": node.url, "api_token": "wrong-token", "triggers_replace": "abc"})
    assert result.returncode == ExitCode.REJECTED and simulator.state.backups_started == 0


def test_values_reach_the_service_verbatim_and_are_never_run_by_the_shell(node, simulator, tmp_path):
    marker = tmp_path / "pwned"
    reason = f'x"; touch {marker}; echo "$(touch {marker}) `touch {marker}` $HOME'
    result = run_module({"service_url": node.url, "api_token": API_TOKEN, "reason": reason, "triggers_replace": 1})
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert not marker.exists()
    assert node.store.latest_trigger().reason == f"{reason} (workspace default)"


# ---------------------------------------------------------------------------- tf-status: the external protocol
def tf_status(stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the exact program the external example names, as the external provider would."""
    data = blocks(load(ROOT / "examples" / "external" / "main.tf"), "data")["external"]['"latest_backup"']
    program = [value(p, {}) for p in data["program"]]
    base = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    return subprocess.run(program, input=stdin, env=base | env, capture_output=True, text=True, timeout=30)


def test_tf_status_prints_one_object_of_strings(node, simulator, auth):
    requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={})
    result = tf_status("{}", {"VCFBACKUP_TRIGGER_URL": node.url, "VCFBACKUP_TRIGGER_TOKEN": API_TOKEN})
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert all(isinstance(v, str) for v in status.values())
    assert status["status"] == "SUCCESSFUL" and status["sddc_task_id"] and status["backup_id"].startswith("bkp_")
    assert int(status["age_seconds"]) < 60 and status["completed_at"].endswith("Z")
    assert simulator.state.backups_started == 1  # reading started nothing


def test_tf_status_takes_the_url_from_the_query(node, simulator, auth):
    requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={})
    result = tf_status(json.dumps({"url": node.url, "timeout": "5"}), {"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN})
    assert result.returncode == 0 and json.loads(result.stdout)["service_url"] == node.url


@pytest.mark.parametrize(("stdin", "env", "code", "message"), [
    ("{}", {"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}, ExitCode.FAILED, "no SUCCESSFUL backup"),
    ("{}", {"VCFBACKUP_TRIGGER_TOKEN": "wrong"}, ExitCode.REJECTED, "answered 401"),
    ("{}", {}, ExitCode.REJECTED, "VCFBACKUP_TRIGGER_TOKEN"),
    ("not json", {"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}, ExitCode.REJECTED, "stdin is not JSON"),
    ('{"max_age": 5}', {"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}, ExitCode.REJECTED, "values are strings"),
    ('{"token": "x"}', {}, ExitCode.REJECTED, "stores the query in its state"),
    ('{"maxage": "5"}', {"VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}, ExitCode.REJECTED, "unknown query key 'maxage'"),
])
def test_tf_status_errors_go_to_stderr_with_a_non_zero_exit(node, stdin, env, code, message):
    result = tf_status(stdin, {"VCFBACKUP_TRIGGER_URL": node.url} | env)
    assert result.returncode == code
    assert message in result.stderr and result.stdout == ""


def test_tf_status_reports_an_unreachable_service():
    result = tf_status("{}", {"VCFBACKUP_TRIGGER_URL": "http://127.0.0.1:9", "VCFBACKUP_TRIGGER_TOKEN": API_TOKEN})
    assert result.returncode == ExitCode.UNAVAILABLE and "unreachable" in result.stderr
