"""Slow clients cannot starve a ``serve`` node (issue 13): with 200 connections trickling request
headers, or 24 callers holding ``?wait=``, /healthz and authenticated triggers still answer; and the
project's own clients do not poll a node whose waiting slots are full in a loop."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from webhook.clients.http import ExitCode
from webhook.clients.terraform_provider.api import Connection, ServiceApi
from webhook.clients.trigger import TriggerClient

from tests.conftest import API_TOKEN
from tests.support.node import InProcessNode, ServeProcess
from tests.support.slow_clients import Tricklers

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_200_connections_trickling_headers_leave_healthz_and_triggers_answering(serve_env):
    node = ServeProcess(serve_env).start()
    try:
        with Tricklers("127.0.0.1", node.port, 200) as tricklers:
            assert tricklers.connected == 200
            assert requests.get(node.url + "/healthz", timeout=5).status_code == 200
            answer = requests.post(node.url + "/v1/triggers", headers=AUTH, json={"reason": "while trickled"},
                                   timeout=5)
            assert answer.status_code == 202
            assert requests.get(node.url + "/readyz", timeout=5).status_code == 200
    finally:
        node.kill()


def test_callers_holding_wait_cannot_take_every_request_thread(serve_env, simulator):
    simulator.state.update_config(backup_seconds=30)
    node = ServeProcess(serve_env).start()
    try:
        trigger_id = requests.post(node.url + "/v1/triggers", headers=AUTH, json={}, timeout=5).json()["id"]

        def hold(_: int) -> int:
            return requests.get(f"{node.url}/v1/triggers/{trigger_id}?wait=12", headers=AUTH, timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            holders = [pool.submit(hold, i) for i in range(24)]
            concurrent.futures.wait(holders, timeout=1)
            assert requests.get(node.url + "/healthz", timeout=3).status_code == 200
            assert requests.post(node.url + "/v1/triggers", headers=AUTH, json={}, timeout=3).status_code == 202
            assert {h.result(timeout=30) for h in holders} == {202}
    finally:
        node.kill()


def _counting_gets(http: requests.Session) -> list[str]:
    """The URLs of the GETs ``http`` sends from now on (the requests themselves go out unchanged)."""
    sent: list[str] = []
    send = http.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if method == "GET":
            sent.append(url)
        return send(method, url, *args, **kwargs)

    http.request = request  # type: ignore[method-assign,assignment]
    return sent


def _cli_waits(url: str) -> list[str]:
    client = TriggerClient(url, API_TOKEN)
    gets = _counting_gets(client.session)
    outcome = client.run({"reason": "a full node"}, wait=True, timeout=2.5, progress=lambda _: None)
    assert outcome.exit_code == ExitCode.TIMED_OUT
    return gets


def _provider_waits(url: str) -> list[str]:
    api = ServiceApi(Connection(url, API_TOKEN, True, 5.0))
    gets = _counting_gets(api.http)
    view = api.start_backup({"reason": "a full node"}, "full-node-1", deadline=time.monotonic() + 5)
    assert api.wait(view, deadline=time.monotonic() + 2.5)["state"] not in ("DONE", "SKIPPED")
    return gets


@pytest.mark.parametrize("waits", [_cli_waits, _provider_waits], ids=["trigger command", "terraform provider"])
def test_a_client_whose_wait_is_not_held_asks_about_once_a_second(make_settings, simulator,
                                                                   waits: Callable[[str], list[str]]):
    simulator.state.update_config(backup_seconds=30)
    node = InProcessNode(make_settings(max_waiters=1)).start()
    try:
        held = requests.post(node.url + "/v1/triggers", headers=AUTH, json={}, timeout=5).json()["id"]
        holder = threading.Thread(target=requests.get, args=(f"{node.url}/v1/triggers/{held}?wait=5",),
                                  kwargs={"headers": AUTH, "timeout": 15})
        holder.start()
        time.sleep(0.5)  # the one waiting slot is taken: every other ?wait= is answered at once
        gets = waits(node.url)
        # 2.5 s of waiting at one ask a second (before: one ask per round trip, hundreds).
        assert 2 <= len(gets) <= 4, gets
        holder.join(timeout=15)
    finally:
        node.stop()
