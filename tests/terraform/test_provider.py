"""The vcfbackup provider driven by real Terraform (1.0.3 and the newest on the machine) against a real
``serve`` node and the SDDC Manager simulator, all on loopback, offline."""

from __future__ import annotations

import json
import re

from webhook import __version__

from tests.conftest import API_TOKEN

PROVIDER = """
terraform {{
  required_providers {{
    vcfbackup = {{
      source  = "vcf-backup-webhook/vcfbackup"
      version = "{version}"
    }}
  }}
}}

provider "vcfbackup" {{}}
"""


def config(body: str) -> str:
    return PROVIDER.format(version=__version__) + body


def backup_block(trigger: str, reason: str) -> str:
    return f"""
resource "vcfbackup_backup" "pre_change" {{
  triggers = {{ cluster = "{trigger}" }}
  reason   = "{reason}"
  timeout  = "2m"
}}

data "vcfbackup_latest_backup" "last" {{
  elements   = ["SDDC_MANAGER"]
  depends_on = [vcfbackup_backup.pre_change]
}}

output "latest_task" {{
  value = data.vcfbackup_latest_backup.last.sddc_task_id
}}
"""


def test_install_init_plan_apply_no_drift_update_replace_destroy(workdir, service):
    workdir.write(config(backup_block("v1", "resize wld01")))
    init = workdir.run("init")
    assert f"Installing vcf-backup-webhook/vcfbackup v{__version__}" in init.stdout
    assert re.search(r'"h1:[A-Za-z0-9+/=]+"', (workdir.path / ".terraform.lock.hcl").read_text())

    plan = workdir.run("plan")
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.stdout
    before = service.backup_posts()

    workdir.run("apply", "-auto-approve")
    assert service.backup_posts() == before + 1
    backup = workdir.state()["vcfbackup_backup.pre_change"]["values"]
    assert backup["sddc_task_id"] == service.newest_task_id()
    assert backup["status"] == "SUCCESSFUL" and backup["id"].startswith("trg_") and backup["backup_id"]
    assert backup["elements"] == ["SDDC_MANAGER"] and backup["timeout"] == "2m"
    assert backup["resources"] == [{"type": "SDDC_MANAGER", "fqdn": "sddc-manager.vcf.sim",
                                    "resource_id": backup["resources"][0]["resource_id"]}]
    assert backup["completed_at"].endswith("Z") and backup["started_at"]
    outputs = json.loads(workdir.run("output", "-json").stdout)
    assert outputs["latest_task"]["value"] == backup["sddc_task_id"]
    latest = workdir.state()["data.vcfbackup_latest_backup.last"]["values"]
    assert latest["status"] == "SUCCESSFUL" and 0 <= latest["age_seconds"] < 60

    assert workdir.run("plan", "-detailed-exitcode", check=False).returncode == 0  # no drift

    workdir.write(config(backup_block("v1", "resize wld01, second try")))
    plan = workdir.run("plan")
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.stdout
    workdir.run("apply", "-auto-approve")
    assert service.backup_posts() == before + 1  # a new reason takes no backup
    updated = workdir.state()["vcfbackup_backup.pre_change"]["values"]
    assert updated["id"] == backup["id"] and updated["reason"] == "resize wld01, second try"

    workdir.write(config(backup_block("v2", "resize wld01, second try")))
    plan = workdir.run("plan")
    assert "must be replaced" in plan.stdout and "Plan: 1 to add, 0 to change, 1 to destroy." in plan.stdout
    workdir.run("apply", "-auto-approve")
    assert service.backup_posts() == before + 2  # a changed trigger: a second backup
    replaced = workdir.state()["vcfbackup_backup.pre_change"]["values"]
    assert replaced["id"] != backup["id"] and replaced["sddc_task_id"] == service.newest_task_id()

    workdir.run("destroy", "-auto-approve")
    assert service.backup_posts() == before + 2  # destroy starts nothing (and deletes no backup)
    assert workdir.state() == {}


def test_import_by_trigger_id_then_no_changes_even_once_the_trigger_is_pruned(workdir, service):
    import requests

    done = requests.post(service.url + "/v1/triggers?wait=30", json={"reason": "taken by a script"},
                         headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=40).json()
    assert done["backup"]["status"] == "SUCCESSFUL"
    before = service.backup_posts()
    workdir.write(config("""
resource "vcfbackup_backup" "imported" {
  reason = "taken by a script"
}
"""))
    workdir.run("init")
    imported = workdir.run("import", "vcfbackup_backup.imported", done["id"])
    assert "Import successful" in imported.stdout
    values = workdir.state()["vcfbackup_backup.imported"]["values"]
    assert values["id"] == done["id"] and values["sddc_task_id"] == done["backup"]["id"]
    assert workdir.run("plan", "-detailed-exitcode", check=False).returncode == 0
    assert service.backup_posts() == before

    service.prune(done["id"])  # the backup happened: its resource stays, and no new backup is planned
    assert workdir.run("plan", "-detailed-exitcode", check=False).returncode == 0
    workdir.run("apply", "-auto-approve")
    assert workdir.state()["vcfbackup_backup.imported"]["values"] == values
    assert service.backup_posts() == before

    missing = workdir.run("import", "vcfbackup_backup.imported", "trg_does_not_exist", check=False)
    assert missing.returncode != 0


def test_failed_backup_fails_the_apply_and_nothing_that_depends_on_it_is_created(workdir, service, terraform):
    if terraform.at_least(1, 4):
        dependent = ('resource "terraform_data" "cluster_change" {\n  input = "wld01"\n'
                     '  depends_on = [vcfbackup_backup.pre_change]\n}\n')
        dependent_address = "terraform_data.cluster_change"
    else:  # no terraform_data before 1.4, and nothing can be downloaded here: a second backup stands in
        dependent = 'resource "vcfbackup_backup" "after" {\n  depends_on = [vcfbackup_backup.pre_change]\n}\n'
        dependent_address = "vcfbackup_backup.after"
    workdir.write(config('resource "vcfbackup_backup" "pre_change" {\n  reason = "must fail"\n}\n' + dependent))
    workdir.run("init")
    before = service.backup_posts()
    service.simulator.state.update_config(outcome="FAILED")
    try:
        applied = workdir.run("apply", "-auto-approve", check=False)
    finally:
        service.simulator.state.update_config(outcome="SUCCESSFUL")
    assert applied.returncode != 0
    output = applied.stdout + applied.stderr
    assert "SDDC Manager backup FAILED" in output
    assert "unable to transfer backup file to SFTP server" in output
    assert "Remediation: Verify the backup configuration" in output
    assert f"{service.url}/v1/triggers/trg_" in output
    assert service.backup_posts() == before + 1  # the dependent did not run
    state = workdir.state()
    assert dependent_address not in state and "vcfbackup_backup.pre_change" not in state


def test_wrong_token_is_named_and_its_value_appears_nowhere(tmp_path, terraform, service):
    from tests.support.terraform import Workdir, install_provider

    secret = "wrong-token-5f1c9a77e2b04d3e"
    work = Workdir.create(terraform, tmp_path, trace=True, VCFBACKUP_TRIGGER_URL=service.url, TF_VAR_token=secret)
    install_provider(work.home)
    work.write(config("").replace('provider "vcfbackup" {}', """
variable "token" {
  type      = string
  sensitive = true
}

provider "vcfbackup" {
  token = var.token
}

resource "vcfbackup_backup" "pre_change" {}
"""))
    work.run("init")
    before = service.backup_posts()
    applied = work.run("apply", "-auto-approve", check=False)
    assert applied.returncode != 0
    output = applied.stdout + applied.stderr
    assert "refused the token (401)" in output and "token" in output
    assert service.backup_posts() == before
    logs = work.logs()
    assert "vcfbackup" in logs  # the provider really ran under TRACE logging
    for place, text in (("output", output), ("state", work.raw_state()), ("terraform log", logs),
                        ("service log", service.node.output())):
        assert secret not in text, f"the token's value is in the {place}"


def validation_errors(workdir, text: str) -> dict[str, str]:
    """``terraform validate -json``: each error's summary → the source line it points at."""
    workdir.write(text)
    validated = workdir.run("validate", "-json", check=False)
    assert validated.returncode != 0
    return {d["summary"]: d.get("snippet", {}).get("code", "") for d in json.loads(validated.stdout)["diagnostics"]
            if d["severity"] == "error"}


def test_plan_time_validation_points_at_the_attribute(workdir):
    workdir.write(config(""))
    workdir.run("init")
    found = validation_errors(workdir, config("""
resource "vcfbackup_backup" "bad" {
  elements            = ["SDDC_MANAGER", "VCENTER"]
  timeout             = "soon"
  reuse_if_newer_than = "-5m"
  callback_url        = "/hooks/backup-done"
}

data "vcfbackup_latest_backup" "bad" {
  elements = []
}
"""))
    # Terraform validates a provider block only when something uses it.
    found |= validation_errors(workdir, config('data "vcfbackup_latest_backup" "any" {}\n').replace(
        'provider "vcfbackup" {}', 'provider "vcfbackup" {\n  endpoint        = "ftp://vcf-backup.example.com"\n'
                                   '  request_timeout = "0s"\n}'))
    expected = {
        "unsupported element type 'VCENTER'": 'elements            = ["SDDC_MANAGER", "VCENTER"]',
        "timeout is not a duration": "timeout",
        "reuse_if_newer_than is not a duration": "reuse_if_newer_than",
        "callback_url must be an absolute http(s) URL": "callback_url",
        "elements must not be empty": "elements = []",
        "endpoint must be an absolute http(s) URL": "endpoint",
        "request_timeout must be more than zero": "request_timeout",
    }
    for summary, line in expected.items():
        assert summary in found, f"{summary!r} not in {sorted(found)}"
        assert line in found[summary], (summary, found[summary])


def test_a_backup_outlasting_the_timeout_fails_the_apply_with_the_status_url(workdir, service):
    import requests

    workdir.write(config('resource "vcfbackup_backup" "slow" {\n  timeout = "1s"\n}\n'))
    workdir.run("init")
    service.simulator.state.update_config(backup_seconds=4.0)
    try:
        applied = workdir.run("apply", "-auto-approve", check=False)
    finally:
        service.simulator.state.update_config(backup_seconds=1.0)
    output = applied.stdout + applied.stderr
    assert applied.returncode != 0 and "the backup did not end within 1s" in output and "goes on" in output
    status_url = re.search(rf"{re.escape(service.url)}/v1/triggers/trg_\w+", output).group(0)
    assert workdir.state() == {}
    finished = requests.get(status_url + "?wait=20", headers={"Authorization": f"Bearer {API_TOKEN}"},
                            timeout=30).json()  # the backup went on without Terraform, and ends
    assert finished["state"] == "DONE" and finished["backup"]["status"] == "SUCCESSFUL"


def test_a_request_the_service_refuses_fails_with_its_message_and_starts_nothing(workdir, service):
    workdir.write(config('resource "vcfbackup_backup" "refused" {\n'
                         '  callback_url = "http://127.0.0.1:9/not-on-the-allowlist"\n}\n'))
    workdir.run("init")
    before = service.backup_posts()
    applied = workdir.run("apply", "-auto-approve", check=False)
    output = applied.stdout + applied.stderr
    assert applied.returncode != 0
    assert "vcf-backup-webhook could not start the backup (400" in output and "VCFBACKUP_CALLBACK" in output
    assert service.backup_posts() == before and workdir.state() == {}
