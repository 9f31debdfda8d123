"""The real Prometheus Alertmanager binary on loopback, for flow tests and for capturing payloads.

The Debian package ``prometheus-alertmanager`` installs ``/usr/bin/prometheus-alertmanager``.
Its config is written as JSON, which Alertmanager's YAML parser reads as it is.

Capture fresh payloads into tests/payloads/ (for example after installing a newer Alertmanager)::

    python -m tests.support.alertmanager capture tests/payloads
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.support.node import free_port
from tests.support.processes import wait_ready

BINARY_CANDIDATES = ("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")


def find_binary() -> str | None:
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def webhook_config(url: str, *, token: str | None = None, max_alerts: int = 0,
                   send_resolved: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {"url": url, "send_resolved": send_resolved, "max_alerts": max_alerts}
    if token is not None:
        config["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return config


def am_config(webhook: dict[str, Any], *, group_by: list[str] | None = None, group_wait: str = "1s",
              group_interval: str = "2s", repeat_interval: str = "3s") -> dict[str, Any]:
    return {
        "route": {"receiver": "vcf-backup", "group_by": group_by or ["alertname"], "group_wait": group_wait,
                  "group_interval": group_interval, "repeat_interval": repeat_interval},
        "receivers": [{"name": "vcf-backup", "webhook_configs": [webhook]}],
    }


def alert(name: str, *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
          resolved: bool = False) -> dict[str, Any]:
    """One alert as Prometheus posts it to ``/api/v2/alerts``; resolved = endsAt in the past."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "labels": {"alertname": name, **(labels or {})},
        "annotations": annotations or {},
        "generatorURL": f"http://prometheus.example.com/graph?g0.expr={name}",
    }
    if resolved:
        body["endsAt"] = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    return body


class AlertmanagerProcess:
    """One Alertmanager, clustering off, its stderr kept in a file the test can read."""

    def __init__(self, workdir: Path, config: dict[str, Any], binary: str | None = None) -> None:
        self.binary = binary or find_binary()
        if self.binary is None:
            raise RuntimeError("prometheus-alertmanager is not installed")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self.log_path = workdir / "alertmanager.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> AlertmanagerProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config_path}", f"--storage.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=",
             "--web.external-url=http://alertmanager.test:9093", "--log.level=debug"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        state = wait_ready(self.proc, self.url + "/-/ready", timeout)
        if state == "ready":
            return self
        if state == "exited":
            raise RuntimeError(f"alertmanager exited: {self.log()[-2000:]}")
        self.stop()
        raise RuntimeError(f"alertmanager did not become ready: {self.log()[-2000:]}")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        response = requests.post(self.url + "/api/v2/alerts", json=alerts, timeout=10)
        response.raise_for_status()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared in the Alertmanager log:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------------------------------- capture
def _wait_for_more(receiver: Any, count: int, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(receiver.received) <= count:
        time.sleep(0.05)
    if len(receiver.received) <= count:
        raise RuntimeError("Alertmanager sent nothing")
    return bytes(receiver.received[-1].body)


def _capture(out: Path) -> None:  # pragma: no cover - a developer tool, run by hand
    """Run Alertmanager against a local receiver and save the notifications it sends.

    A child route with a matcher makes the groupKey show a route path, as production configs do.
    """
    from tests.support.receiver import Receiver

    receiver = Receiver().start()
    version = subprocess.run([find_binary() or "alertmanager", "--version"], capture_output=True, text=True)
    tag = (version.stdout or version.stderr).split()[2].replace(".", "_")
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"am-capture-{os.getpid()}"
    labels = {"cluster": "vcf-mgmt-01", "severity": "critical", "vcf_backup": "true", "job": "vmware-exporter",
              "instance": "vcenter-mgmt.example.com:9272"}
    firing = [alert("VcfDatastoreAlmostFull", labels={**labels, "datastore": f"ds-{i:02d}"},
                    annotations={"summary": f"Datastore ds-{i:02d} is 95% full",
                                 "backup_elements": "SDDC_MANAGER"}) for i in range(4)]
    ended = alert("x", resolved=True)["endsAt"]
    saved: dict[str, bytes] = {}
    for case, max_alerts in (("firing", 0), ("truncated", 2)):
        config = am_config(webhook_config(receiver.url(f"/{case}"), token="capture-token", max_alerts=max_alerts),
                           group_by=["alertname", "cluster"])
        config["route"]["routes"] = [{"receiver": "vcf-backup", "matchers": ['vcf_backup="true"'],
                                      "group_by": ["alertname", "cluster"]}]
        am = AlertmanagerProcess(workdir / case, config).start()
        try:
            receiver.received.clear()
            am.post_alerts(firing)
            saved[case] = _wait_for_more(receiver, 0)
            if case == "firing":
                am.post_alerts([{**a, "endsAt": ended} for a in firing[:2]])
                saved["mixed"] = _wait_for_more(receiver, 1)
                am.post_alerts([{**a, "endsAt": ended} for a in firing[2:]])
                saved["resolved"] = _wait_for_more(receiver, 2)
                big = [alert(f"VcfHostAlarm{i % 5}", labels={**labels, "esxi_host": f"esxi-{i:04d}.example.com",
                                                             "alarm_id": f"alarm.HostConnectionStateAlarm-{i}"},
                             annotations={"summary": f"Host esxi-{i:04d} lost connection to vCenter",
                                          "description": "The host is not responding. " * 4,
                                          "runbook_url": "https://runbooks.example.com/vcf/host-connection"})
                       for i in range(1000)]
                config_big = am_config(webhook_config(receiver.url("/big"), token="capture-token"),
                                       group_by=["cluster"])
                big_am = AlertmanagerProcess(workdir / "big", config_big).start()
                try:
                    receiver.received.clear()
                    big_am.post_alerts(big)
                    body = _wait_for_more(receiver, 0)
                    print(f"a 1,000-alert notification is {len(body)} bytes "
                          f"({len(json.loads(body)['alerts'])} alerts); not saved")
                finally:
                    big_am.stop()
        finally:
            am.stop()
    receiver.stop()
    for case, body in saved.items():
        path = out / f"alertmanager_{tag}_{case}.json"
        path.write_bytes(body)
        print(f"wrote {path} ({len(body)} bytes)")


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) == 3 and sys.argv[1] == "capture":
        _capture(Path(sys.argv[2]))
    else:
        print(__doc__)
