"""kill -9 of the whole service (gunicorn + worker) and a restart: one backup, every callback delivered."""

from __future__ import annotations

import time

import requests

from tests.conftest import API_TOKEN
from tests.support.node import ServeProcess


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def trigger(url: str, callback: str, reason: str) -> str:
    response = requests.post(url + "/v1/triggers", headers={"Authorization": f"Bearer {API_TOKEN}"},
                             json={"callbackUrl": callback, "reason": reason}, timeout=10)
    assert response.status_code == 202
    return response.json()["id"]


def test_kill_9_mid_backup_then_restart_delivers_exactly_once(serve_env, simulator, receiver):
    simulator.state.update_config(backup_seconds=3)
    node = ServeProcess(serve_env).start()
    try:
        ids = {trigger(node.url, receiver.url(), f"r{i}") for i in range(3)}
        wait_until(lambda: simulator.state.running_ids())
        node.kill()
    finally:
        node.kill()
    restarted = ServeProcess(serve_env).start()
    try:
        callbacks = receiver.wait_for(3, timeout=30)
        time.sleep(1)  # anything duplicated would arrive now
        assert {c.json()["trigger"]["id"] for c in receiver.received} == ids
        assert len(receiver.received) == 3
        assert {c.json()["status"] for c in callbacks} == {"SUCCESSFUL"}
        assert simulator.state.backups_started == 1
    finally:
        restarted.kill()


def test_kill_9_after_post_before_task_id_is_stored_adopts_instead_of_posting_again(serve_env, simulator, receiver):
    simulator.state.update_config(backup_seconds=2)
    # SDDC Manager starts the backup, then answers slowly: the service dies before it learns the task id.
    simulator.state.add_delay("/v1/backups/tasks", seconds=5, method="POST", when="after")
    node = ServeProcess(serve_env).start()
    try:
        trigger_id = trigger(node.url, receiver.url(), "crash in submit")
        wait_until(lambda: simulator.state.backups_started == 1)
        node.kill()
    finally:
        node.kill()
    restarted = ServeProcess(serve_env).start()
    try:
        [callback] = receiver.wait_for(1, timeout=30)
        assert callback.json()["trigger"]["id"] == trigger_id
        assert callback.json()["status"] == "SUCCESSFUL"
        assert simulator.state.backups_started == 1
    finally:
        restarted.kill()
