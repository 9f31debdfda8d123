"""A live `serve` node exports every metric the alert rules and the dashboard use, with their labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests
import yaml

from tests.conftest import API_TOKEN
from tests.support.node import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
ADDED_BY_PROMETHEUS = {"job", "instance"}  # target labels, not the exporter's


def expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/vcf-backup-webhook.rules.yml").read_text())
    found = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    board = json.loads((ROOT / "deploy/grafana/vcf-backup-webhook.json").read_text())
    found += [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    return found


def exported(text: str) -> dict[str, set[str]]:
    """Metric name → the label names its samples carry (union over its series)."""
    found: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ", line)
        if match and not line.startswith("#"):
            labels = set(re.findall(r'(\w+)="', match.group(2) or ""))
            found.setdefault(match.group(1), set()).update(labels)
    return found


def used(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """Metrics with the labels their own matchers name, and the labels grouping clauses name."""
    metrics: dict[str, set[str]] = {}
    for name, matchers in re.findall(r"\b(vcfbackup_\w+)(?:\{([^}]*)\})?", expr):
        metrics.setdefault(name, set()).update(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", matchers))
    grouping = set()
    for clause in re.findall(r"\b(?:by|on|ignoring|without)\s*\(([^)]*)\)", expr):
        grouping.update(label.strip() for label in clause.split(",") if label.strip())
    return metrics, grouping


def test_every_metric_the_rules_and_dashboard_use_is_exported_with_its_labels(serve_env, simulator, receiver):
    node = ServeProcess(serve_env).start()
    try:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        done = requests.post(node.url + "/v1/triggers?wait=20", headers=auth, json={"callbackUrl": receiver.url()},
                             timeout=30)
        assert done.status_code == 200, done.text
        assert requests.post(node.url + "/v1/triggers", headers={"Authorization": "Bearer nope"}).status_code == 401
        receiver.wait_for(1)
        text = requests.get(node.url + "/metrics", timeout=10).text
    finally:
        node.kill()
    series = exported(text)
    for expr in expressions():
        metrics, grouping = used(expr)
        assert metrics, expr
        for name, labels in metrics.items():
            assert name in series, f"{name} (used in {expr!r}) is not exported"
            missing = labels - ADDED_BY_PROMETHEUS - series[name]
            assert not missing, f"{name} has no label(s) {missing} (used in {expr!r})"
        carried = set().union(*(series[name] for name in metrics)) | ADDED_BY_PROMETHEUS
        assert grouping <= carried, f"{expr!r} groups by {grouping - carried}, which no metric it reads carries"
    assert 'vcfbackup_sddc_manager_up{sddc_manager="default"} 1.0' in text
    assert re.search(r'^vcfbackup_auth_refused_total\{source="triggers"\} 1\.0$', text, re.M)
