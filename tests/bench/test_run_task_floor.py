"""The run task's floor answers a signed run task request and sends it one "running" PATCH, and only one;
its sender runs at the nice value the bench asks for, and the report names that variant."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from bench import payloads, servers
from bench.receiver import Receiver
from bench.report_ack import ack_table
from bench.run_task_floor import SENDER_NICE
from bench.targets import FLOOR_SENDER_NICE_10, RUN_TASK_FLOOR


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


def test_the_sender_runs_at_the_nice_value_the_bench_asks_for(tmp_path: Path) -> None:
    env = servers.node_env(tmp_path / "floor.db", servers.free_port(), "http://127.0.0.1:9", "127.0.0.1:9",
                           **{SENDER_NICE: "10"})
    with servers.run_task_floor(tmp_path, env) as floor:
        senders = [pid for pid in servers.children(floor.pid) if "--sender" in servers.command_line(pid)]
        assert len(senders) == 1
        deadline = time.monotonic() + 10
        while _nice(senders[0]) != 10 and time.monotonic() < deadline:  # it lowers itself once started
            time.sleep(0.05)
        assert _nice(senders[0]) == 10


def test_the_report_names_the_floor_whose_sender_runs_at_serves_nice() -> None:
    base = {"endpoint": payloads.TERRAFORM.name, "conns": 16, "rps": 2000.0, "p50_ms": 5.0, "p99_ms": 20.0,
            "errors": 0, "floor_rps": 2500.0, "started_sent": 9_000, "acked": 20_000}
    lines = ack_table({"rows": [{"server": RUN_TASK_FLOOR, **base},
                                {"server": RUN_TASK_FLOOR, "variant": FLOOR_SENDER_NICE_10, **base}]})
    named = [line for line in lines if line.startswith("| run-task floor, its sender at nice 10")]
    assert len(named) == 1 and "9,000 / 20,000 (0.45)" in named[0] and "| 0.80 |" in named[0]
    assert any(line.startswith("Run-task floor, its sender at nice 10:") for line in lines)


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
