"""The run task's floor answers a signed run task request and sends it one "running" PATCH, and only one."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench import payloads, servers
from bench.receiver import Receiver


def test_a_signed_request_is_stored_and_gets_one_running_patch_and_a_bad_signature_gets_401(tmp_path: Path) -> None:
    receiver = Receiver().start()
    env = servers.node_env(tmp_path / "floor.db", servers.free_port(), "http://127.0.0.1:9", receiver.host)
    try:
        with servers.run_task_floor(tmp_path, env) as floor:
            headers, body = payloads.TERRAFORM.build(1, "t", lambda i: f"{receiver.base}/rtf/{i}")
            sent = dict(zip(payloads.TERRAFORM.header_names, headers, strict=True))
            assert requests.post(f"{floor.url}/hooks/terraform/run-task", data=body, headers=sent,
                                 timeout=5).status_code == 200
            forged = {**sent, "X-TFC-Task-Signature": "0" * 128}
            assert requests.post(f"{floor.url}/hooks/terraform/run-task", data=body, headers=forged,
                                 timeout=5).status_code == 401
            deadline = time.monotonic() + 10
            while receiver.started_under("/rtf/") < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # a second PATCH for the same row would have come by now
            arrivals = receiver.snapshot()
        assert [(a.method, a.path, a.final) for a in arrivals] == [("PATCH", "/rtf/1", False)]
    finally:
        receiver.stop()
