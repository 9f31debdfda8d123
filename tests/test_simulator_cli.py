"""`vcf-backup-webhook simulator` as an operator starts it: flags honoured, real login and backup."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from tests.support.node import free_port


def test_simulator_command_serves_the_sddc_manager_api():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "webhook", "simulator", "--port", str(port), "--username",
                             "ops@local", "--password", "pw-123", "--backup-seconds", "0.2", "--outcome", "FAILED"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ), text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                token = requests.post(base + "/v1/tokens", json={"username": "ops@local", "password": "pw-123"})
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert token.status_code == 201
        auth = {"Authorization": f"Bearer {token.json()['accessToken']}"}
        task = requests.post(base + "/v1/backups/tasks", headers=auth,
                             json={"elements": [{"resourceType": "SDDC_MANAGER"}]}).json()
        time.sleep(0.4)
        assert requests.get(f"{base}/v1/tasks/{task['id']}", headers=auth).json()["status"] in ("Failed", "FAILED")
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "pw-123" not in output
