"""Slow clients cannot starve a ``serve`` node (issue 13): with 200 connections trickling request
headers, or 16 callers holding ``?wait=``, /healthz and authenticated triggers still answer."""

from __future__ import annotations

import concurrent.futures

import requests

from tests.conftest import API_TOKEN
from tests.support.node import ServeProcess
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
