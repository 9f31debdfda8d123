"""The console script as users run it: subprocesses against a real node and the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import API_TOKEN
from tests.support.node import free_port


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    return subprocess.run([sys.executable, "-m", "webhook", *args], env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def trigger_env(node):
    return {"VCFBACKUP_TRIGGER_URL": node.url, "VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}


def test_trigger_wait_prints_the_backup_task_and_exits_0(trigger_env, simulator):
    result = run("trigger", "--wait", "--reason", "cli test", env=trigger_env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "SUCCESSFUL"
    assert document["trigger"]["reason"] == "cli test"
    assert "accepted" in result.stderr
    assert API_TOKEN not in result.stderr + result.stdout


def test_trigger_wait_exits_1_on_a_failed_backup_with_sddc_managers_message(trigger_env, simulator):
    simulator.state.update_config(outcome="FAILED")
    result = run("trigger", "--wait", env=trigger_env)
    assert result.returncode == 1
    assert json.loads(result.stdout)["status"] == "FAILED"
    assert "FAILED" in result.stderr


def test_trigger_exits_2_when_the_wait_runs_out(trigger_env, simulator):
    simulator.state.update_config(backup_seconds=30)
    result = run("trigger", "--wait", "--timeout", "1", env=trigger_env)
    assert result.returncode == 2
    assert "gave up waiting" in result.stderr


def test_trigger_exits_3_when_rejected(node):
    result = run("trigger", "--url", node.url, "--token", "wrong")
    assert result.returncode == 3
    assert "VCFBACKUP_UNAUTHENTICATED" in result.stderr


def test_trigger_exits_4_when_the_service_is_unreachable():
    result = run("trigger", "--url", f"http://127.0.0.1:{free_port()}", "--token", "x")
    assert result.returncode == 4


def test_check_reports_configured_backups_and_masks_secrets(simulator, tmp_path):
    env = {"VCFBACKUP_SDDC_URL": simulator.url, "VCFBACKUP_SDDC_USERNAME": "admin@local",
           "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!", "VCFBACKUP_API_TOKENS": "ci:sekrit-token",
           "VCFBACKUP_CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
           "VCFBACKUP_CALLBACK_SIGNING_SECRET": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
           "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = run("check", env=env)
    assert result.returncode == 0, result.stdout
    assert "isConfigured=true" in result.stdout
    assert "VMware123!" not in result.stdout and "sekrit-token" not in result.stdout
    simulator.state.update_config(configured=False)
    result = run("check", env=env)
    assert result.returncode == 1
    assert "PROBLEM: SDDC Manager: backups are not configured" in result.stdout


def test_check_explains_a_wrong_password(simulator, tmp_path):
    result = run("check", env={"VCFBACKUP_SDDC_URL": simulator.url, "VCFBACKUP_SDDC_USERNAME": "admin@local",
                               "VCFBACKUP_SDDC_PASSWORD": "nope", "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path}/c.db"})
    assert result.returncode == 1
    assert "PROBLEM: SDDC Manager" in result.stdout and "nope" not in result.stdout


def test_bad_configuration_exits_78_with_the_variable_name():
    result = run("check", env={"VCFBACKUP_BACKUP_TIMEOUT": "soon"})
    assert result.returncode == 78
    assert "VCFBACKUP_BACKUP_TIMEOUT" in result.stderr


def test_demo_shows_a_backup_from_trigger_to_verified_callback():
    result = run("demo", "--once", "--port", "0", "--backup-seconds", "1", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "curl -s -X POST" in result.stdout
    assert "status=SUCCESSFUL" in result.stdout and "signature=verified" in result.stdout
    assert "result: backup SUCCESSFUL" in result.stdout


def test_version():
    assert run("--version").stdout.startswith("vcf-backup-webhook, version")


def test_demo_with_three_instances_shows_a_fan_out():
    result = run("demo", "--once", "--port", "0", "--backup-seconds", "1", "--instances", "3", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fleet file:" in result.stdout and "signature=verified" in result.stdout
    for site in ("site-1", "site-2", "site-3"):
        assert f"[callback]   {site}: SUCCESSFUL" in result.stdout
    assert "fan-out success" in result.stdout


def test_db_upgrade_brings_the_store_to_the_newest_revision(tmp_path):
    result = run("db", "upgrade", env={"VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'u.db'}"})
    assert result.returncode == 0, result.stderr
    assert "store schema at revision 0003" in result.stdout
