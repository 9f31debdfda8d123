"""The real Alertmanager (Debian's prometheus-alertmanager) notifying the service over loopback.

An alert storm in several groups starts one backup; repeats inside the cooldown and resolved
notifications start nothing; a wrong token is a 401 that Alertmanager logs and does not retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from webhook.core.triggers import TriggerState

from tests.conftest import SIGNING_SECRET
from tests.support.alertmanager import AlertmanagerProcess, alert, am_config, find_binary, webhook_config
from tests.support.node import InProcessNode

pytestmark = pytest.mark.skipif(
    find_binary() is None,
    reason="prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager; CI installs it)")

TOKEN = "am-flow-token-0123456789"
GROUPS = ("VcfDatastoreAlmostFull", "VcfHostDisconnected", "VcfNsxEdgeDown", "VcfCertificateExpiring",
          "VcfVsanDegraded")


def storm(*, resolved: bool = False) -> list[dict[str, Any]]:
    """250 alerts in five alertname groups; the last group names its own callback in an annotation."""
    alerts = []
    for g, name in enumerate(GROUPS):
        for i in range(50):
            annotations = {"summary": f"{name} on object {i}"}
            if g == len(GROUPS) - 1:
                annotations["backup_callback_url"] = "{receiver}/from-annotation"
            alerts.append(alert(name, labels={"cluster": "vcf-mgmt-01", "object": f"obj-{i:03d}",
                                              "severity": "critical"},
                                annotations=annotations, resolved=resolved))
    return alerts


def triggers(node: InProcessNode, state: TriggerState | None = None) -> list[Any]:
    return node.store.list_triggers(source="alertmanager", state=state, since=None, limit=1000)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def am_node(make_settings, receiver) -> Iterator[InProcessNode]:
    settings = make_settings(alertmanager_token=TOKEN, alertmanager_cooldown="1h",
                             alertmanager_callback_url=receiver.url("/configured"))
    node = InProcessNode(settings).start()
    yield node
    node.stop()


def start_alertmanager(tmp_path: Path, node: InProcessNode, token: str) -> AlertmanagerProcess:
    hook = webhook_config(node.url + "/hooks/alertmanager", token=token)
    return AlertmanagerProcess(tmp_path / "am", am_config(hook, group_by=["alertname"], group_wait="1s",
                                                           group_interval="2s", repeat_interval="3s")).start()


def test_storm_repeats_and_resolve_start_exactly_one_backup(am_node, simulator, receiver, tmp_path):
    simulator.state.update_config(backup_seconds=2.0)  # long enough for every group's first notification to ride
    am = start_alertmanager(tmp_path, am_node, TOKEN)
    try:
        alerts = storm()
        for a in alerts:
            if "backup_callback_url" in a["annotations"]:
                a["annotations"]["backup_callback_url"] = receiver.url("/from-annotation")
        am.post_alerts(alerts)

        # Every group's first notification is stored, and they all ride one backup.
        wait_until(lambda: len(triggers(am_node, TriggerState.DONE)) == len(GROUPS), 20, "five DONE triggers")
        done = triggers(am_node, TriggerState.DONE)
        assert len({t.backup_id for t in done}) == 1
        assert sum(t.context["matchedFiring"] for t in done) == 250
        callbacks = receiver.wait_for(len(GROUPS))
        assert sorted(c.path for c in callbacks) == ["/configured"] * 4 + ["/from-annotation"]
        for callback in callbacks:
            body = Webhook(SIGNING_SECRET).verify(callback.body, callback.headers)
            assert body["status"] == "SUCCESSFUL" and body["trigger"]["source"] == "alertmanager"

        # repeat_interval elapses: the unchanged groups come again and are skipped by the cooldown.
        def cooldown_skips() -> list[Any]:
            return [t for t in triggers(am_node, TriggerState.SKIPPED) if (t.note or "").startswith("cooldown")]

        wait_until(lambda: len(cooldown_skips()) >= len(GROUPS), 20, "every group's repeat to be skipped")
        assert {t.context["groupKey"] for t in cooldown_skips()} == {t.context["groupKey"] for t in done}
        assert any(f"{done[0].id}" in (t.note or "") for t in cooldown_skips())

        # Everything resolves: recorded, nothing new.
        resolved = storm(resolved=True)
        for a in resolved:
            a["annotations"] = {}
        am.post_alerts(resolved)

        def resolved_skips() -> list[Any]:
            return [t for t in triggers(am_node, TriggerState.SKIPPED) if (t.note or "").startswith("resolved")]

        wait_until(lambda: len(resolved_skips()) >= len(GROUPS), 20, "resolved notifications to be recorded")
        assert simulator.state.backups_started == 1
        assert len(triggers(am_node, TriggerState.ACCEPTED)) == 0
        assert len(triggers(am_node, TriggerState.ATTACHED)) == 0
        assert "Notify for alerts failed" not in am.log()
    finally:
        am.stop()


def test_wrong_token_is_logged_by_alertmanager_as_401_and_starts_nothing(am_node, simulator, tmp_path):
    am = start_alertmanager(tmp_path, am_node, "not-the-token")
    try:
        am.post_alerts([alert("VcfDatastoreAlmostFull", labels={"severity": "critical"})])
        log = am.wait_for_log("status code 401", timeout=15)
    finally:
        am.stop()
    failed = [line for line in log.splitlines() if "status code 401" in line]
    assert any("Notify for alerts failed" in line or "unrecoverable" in line for line in failed), failed
    assert triggers(am_node) == []
    assert simulator.state.backups_started == 0
