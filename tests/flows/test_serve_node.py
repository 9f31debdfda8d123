"""A real `serve` node: gunicorn workers plus a worker process, metrics aggregated across them."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.conftest import API_TOKEN
from tests.support.node import ServeProcess


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def children(pid: int) -> dict[int, tuple[str, int]]:
    """Child pid → (command line, nice value), read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found[int(entry.name)] = (command, int(fields[16]))
    return found


def test_the_worker_loop_yields_the_cpu_to_the_web_side(serve_env, simulator, receiver):
    node = ServeProcess(serve_env).start()
    try:
        nice = {("worker" if "webhook worker" in command else "web"): value
                for command, value in children(node.proc.pid).values()}
        assert nice == {"worker": 10, "web": 0}
    finally:
        node.kill()


def test_metrics_cover_web_and_worker_processes(serve_env, simulator, receiver):
    node = ServeProcess(serve_env).start()
    try:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        for _ in range(3):
            done = requests.post(node.url + "/v1/triggers?wait=20", headers=auth,
                                 json={"callbackUrl": receiver.url()}, timeout=30)
            assert done.status_code == 200
        assert requests.post(node.url + "/v1/triggers", headers={"Authorization": "Bearer nope"}).status_code == 401
        receiver.wait_for(3)
        text = requests.get(node.url + "/metrics", timeout=10).text
        assert sample(text, "vcfbackup_triggers_total", source="generic", outcome="accepted") == 3
        assert sample(text, "vcfbackup_triggers_total", outcome="rejected",
                      reason="VCFBACKUP_UNAUTHENTICATED") == 1
        assert sample(text, "vcfbackup_backups_total", result="SUCCESSFUL") >= 1
        assert sample(text, "vcfbackup_backup_duration_seconds_count") >= 1
        assert sample(text, "vcfbackup_trigger_to_submit_seconds_count") >= 1
        assert re.search(r"^vcfbackup_worker_heartbeat_age_seconds \d", text, re.M)
    finally:
        node.kill()


def test_sigterm_finishes_in_flight_requests_and_releases_leases_at_once(serve_env, simulator, receiver):
    import threading
    import time

    env = {**serve_env, "VCFBACKUP_WORKER_LEASE": "300s"}  # a lease left behind would stall the next node
    simulator.state.update_config(backup_seconds=4)
    node = ServeProcess(env).start()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    answers: list[int] = []
    try:
        trigger_id = requests.post(node.url + "/v1/triggers", headers=auth,
                                   json={"callbackUrl": receiver.url()}).json()["id"]
        deadline = time.monotonic() + 10
        while not simulator.state.running_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        simulator.state.add_delay("/v1/tasks/*", seconds=2, method="GET", times=1)  # the worker is mid-poll
        waiter = threading.Thread(target=lambda: answers.append(requests.get(
            f"{node.url}/v1/triggers/{trigger_id}?wait=2", headers=auth, timeout=30).status_code))
        waiter.start()
        time.sleep(0.5)
        node.terminate()
        waiter.join(30)
    finally:
        node.kill()
    assert answers in ([200], [202])
    restarted = ServeProcess(env).start()
    try:
        [callback] = receiver.wait_for(1, timeout=20)
        assert callback.json()["trigger"]["id"] == trigger_id
        assert simulator.state.backups_started == 1
    finally:
        restarted.kill()
