"""The alert rules: valid for Prometheus, each unit-tested both ways, each runbook link lands in the README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.binaries import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/vcf-backup-webhook.rules.yml"
RULE_TESTS = ROOT / "deploy/prometheus/vcf-backup-webhook.rules.test.yml"


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_promtool_checks_the_rules():
    promtool = require("promtool", "prometheus")
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in done.stdout


def test_promtool_unit_tests_pass():
    promtool = require("promtool", "prometheus")
    done = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_rule_has_a_test_that_fires_and_one_that_stays_quiet():
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for rule in alerts():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']}: no test where it fires"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']}: no test where it stays quiet"


def test_every_rule_says_what_happened_what_to_do_and_how_bad():
    anchors = github_anchors((ROOT / "README.md").read_text(encoding="utf-8"))
    for rule in alerts():
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        anchor = notes["runbook_url"].split("#", 1)[1]
        assert notes["runbook_url"].split("#")[0].endswith("/README.md")
        assert anchor in anchors, f"{rule['alert']}: README has no heading for #{anchor}"
