"""Callback receivers that misbehave harm only their own callbacks (issue 13, "one callback endpoint
stalls the whole worker"): over real HTTP, with the worker running, against the simulator."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.bad_receivers import BadReceiver
from tests.support.node import InProcessNode


@pytest.fixture
def bad(request):
    receiver = BadReceiver(request.param).start()
    yield receiver
    receiver.stop()


def fire(node: InProcessNode, auth: dict[str, str], callback: str, reason: str = "isolation") -> str:
    answer = requests.post(node.url + "/v1/triggers", headers=auth, json={"callbackUrl": callback, "reason": reason},
                           timeout=10)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def first_attempt(node: InProcessNode, auth: dict[str, str], trigger_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth, timeout=10).json()
        for delivery in doc["deliveries"]:
            if delivery["attempts"]:
                return delivery
        time.sleep(0.1)
    raise AssertionError("no delivery attempt was recorded")


@pytest.mark.parametrize("bad", ["hold"], indirect=True)
def test_a_receiver_that_never_answers_delays_neither_the_next_backup_nor_other_callbacks(
        make_settings, simulator, receiver, bad, auth):
    node = InProcessNode(make_settings(callback_allowed_hosts=[receiver.host, bad.host], callback_timeout=60)).start()
    try:
        fire(node, auth, bad.url(), "its receiver hangs")
        assert bad.got_request.wait(20), "the first backup's callback never went out"
        # While that callback hangs, a new trigger needs a new backup: its POST and its callback go out.
        second = fire(node, auth, receiver.url(), "must not wait for the other receiver")
        [callback] = receiver.wait_for(1, timeout=10)
        assert callback.json()["trigger"]["id"] == second
        assert simulator.state.backups_started == 2
        assert not bad.release.is_set()  # all of this happened while the first receiver still hung
    finally:
        bad.release.set()
        node.stop()


@pytest.mark.parametrize("bad", ["trickle"], indirect=True)
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline_not_recorded_delivered(
        make_settings, bad, auth):
    node = InProcessNode(make_settings(callback_allowed_hosts=[bad.host], callback_timeout=2)).start()
    try:
        trigger_id = fire(node, auth, bad.url())
        delivery = first_attempt(node, auth, trigger_id)
        assert delivery["state"] == "PENDING"  # to be retried: the answer never completed
        assert "within 2 s" in delivery["attempts"][0]["error"]
    finally:
        node.stop()


@pytest.mark.parametrize("bad", ["huge"], indirect=True)
def test_a_receiver_answering_an_endless_body_is_read_only_up_to_the_cap(make_settings, bad, auth):
    node = InProcessNode(make_settings(callback_allowed_hosts=[bad.host])).start()
    try:
        trigger_id = fire(node, auth, bad.url())
        delivery = first_attempt(node, auth, trigger_id)
        assert delivery["state"] == "DELIVERED"
        time.sleep(0.5)
        # The cap is 64 KiB; what the kernel's socket buffers took on loopback is the rest.
        assert bad.bytes_sent < 16 * 1024 * 1024, f"{bad.bytes_sent} bytes were read"
    finally:
        node.stop()
