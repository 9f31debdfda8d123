"""The Grafana dashboard: importable anywhere (datasource is a variable, no fixed UIDs), and it shows what it should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/vcf-backup-webhook.json"


def walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, f"{path}[{index}]"))
    return found


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def test_the_datasource_is_a_template_variable_and_no_uid_is_fixed():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert board.get("uid") is None
    for path, node in walk(board):
        if path.endswith(".datasource") and isinstance(node, dict):
            assert node == {"type": "prometheus", "uid": "${datasource}"}, path
        if path.endswith(".uid") and path != ".uid":
            assert node == "${datasource}", path


def test_the_issue_s_panels_are_there_with_queries():
    panels = {p["title"]: p for p in dashboard()["panels"]}
    for title in ("Triggers by source and state", "Backups by outcome", "Backup duration", "Trigger to submit",
                  "Callback deliveries and retries", "Queue depth", "Worker heartbeat age"):
        assert title in panels, title
        assert all(t["expr"].strip() for t in panels[title]["targets"]), title
    ids = [p["id"] for p in panels.values()]
    assert len(ids) == len(set(ids))
