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


def test_simulator_instances_serves_independent_sddc_managers_on_consecutive_ports():
    proc, port, tokens = _start_three()
    try:
        first = f"http://127.0.0.1:{port}"
        assert requests.post(first + "/v1/backups/tasks", headers=tokens[0],
                             json={"elements": [{"resourceType": "SDDC_MANAGER"}]}).status_code == 202
        # The second instance has its own tasks: it runs nothing, and takes a backup of its own at once.
        second = f"http://127.0.0.1:{port + 1}"
        listed = requests.get(second + "/v1/tasks", headers=tokens[1], params={"type": "SDDCMANAGER_BACKUP"}).json()
        assert listed.get("elements", []) == []
        assert requests.post(second + "/v1/backups/tasks", headers=tokens[1],
                             json={"elements": [{"resourceType": "SDDC_MANAGER"}]}).status_code == 202
        assert requests.post(f"http://127.0.0.1:{port + 2}/v1/tokens", json={"username": "admin@local",
                                                                             "password": "x"}).status_code >= 400
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "name: sim-3" in output and f"127.0.0.1:{port + 2}" in output and "VMware123!" not in output


def _taken(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_three() -> tuple[subprocess.Popen[str], int, list[dict[str, str]]]:
    """The simulator on three consecutive free ports, and a token from each.

    Only the first port comes from the kernel; the next two can be taken (an outgoing connection's
    local port on a busy host) between the check and the simulator's bind, and then it exits at
    start: start it again on other ports rather than wait for a server that is gone.
    """
    for _ in range(5):
        port = free_port()
        while any(_taken(port + n) for n in range(3)):
            port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "webhook", "simulator", "--port", str(port), "--instances",
                                 "3", "--backup-seconds", "30"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ), text=True)
        tokens: list[dict[str, str]] = []
        deadline = time.monotonic() + 15
        while len(tokens) < 3 and proc.poll() is None:
            try:
                answer = requests.post(f"http://127.0.0.1:{port + len(tokens)}/v1/tokens",
                                       json={"username": "admin@local", "password": "VMware123!VMware123!"})
                tokens.append({"Authorization": f"Bearer {answer.json()['accessToken']}"})
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the simulator did not listen within 15 s"
                time.sleep(0.1)
        if len(tokens) == 3:
            return proc, port, tokens
        proc.communicate(timeout=10)  # it exited at start (a port taken): try other ports
    raise AssertionError("the simulator could not start on three consecutive free ports in 5 tries")
