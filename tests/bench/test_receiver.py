"""The bench receiver counts finished callback paths as they arrive, telling started messages apart."""

from __future__ import annotations

import json

import requests

from bench.receiver import Receiver


def test_final_results_are_counted_per_path_and_started_messages_are_not() -> None:
    receiver = Receiver().start()
    try:
        def post(path: str, doc: dict[str, object]) -> None:
            requests.post(f"{receiver.base}{path}", data=json.dumps(doc), timeout=5).raise_for_status()

        post("/storm/triggers/1", {"type": "backup.started"})
        post("/storm/slack/2", {"text": "Backup started (task t-1)"})
        post("/storm/run-task/3", {"data": {"attributes": {"status": "running"}}})
        assert receiver.final_paths() == 0
        post("/storm/triggers/1", {"type": "backup.completed"})
        post("/storm/run-task/3", {"data": {"attributes": {"status": "passed"}}})
        post("/storm/run-task/3", {"data": {"attributes": {"status": "passed"}}})  # a duplicate: one path
        assert receiver.final_paths() == 2
        assert [a.is_final() for a in receiver.snapshot()] == [False, False, False, True, True, True]
        receiver.clear()
        assert receiver.final_paths() == 0
    finally:
        receiver.stop()


def test_started_messages_are_counted_under_a_path_prefix() -> None:
    receiver = Receiver().start()
    try:
        for path, status in (("/tp/run-task/1", "running"), ("/tp/run-task/2", "running"),
                             ("/tp/run-task/1", "passed"), ("/tp/other/3", "running")):
            requests.patch(f"{receiver.base}{path}", timeout=5,
                           data=json.dumps({"data": {"attributes": {"status": status}}})).raise_for_status()
        assert receiver.started_under("/tp/run-task/") == 2
        assert receiver.started_under("/tp/") == 3
    finally:
        receiver.stop()
