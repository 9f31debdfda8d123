from __future__ import annotations

import time

import requests

from tests.support.node import InProcessNode


def test_healthz_and_readyz_with_a_running_worker(node):
    assert requests.get(node.url + "/healthz").json() == {"status": "ok"}
    deadline = time.monotonic() + 5
    while requests.get(node.url + "/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    ready = requests.get(node.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"


def test_readyz_fails_without_a_worker_heartbeat(make_settings):
    node = InProcessNode(make_settings(), start_workers=False).start()
    try:
        response = requests.get(node.url + "/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["worker"] == "no worker heartbeat"
        assert requests.get(node.url + "/healthz").status_code == 200
    finally:
        node.stop()


def test_request_id_is_taken_from_the_header_and_echoed(node):
    response = requests.get(node.url + "/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    made = requests.get(node.url + "/healthz", headers={"X-Request-Id": "bad id; with <chars>"})
    assert made.headers["X-Request-Id"] != "bad id; with <chars>" and len(made.headers["X-Request-Id"]) == 16


def test_audit_trail_filters_and_pages(node, auth):
    ids = [requests.post(node.url + "/v1/triggers", headers=auth, json={"reason": f"r{i}"}).json()["id"]
           for i in range(3)]
    first = requests.get(node.url + "/v1/triggers?source=generic&limit=2", headers=auth).json()
    assert [t["id"] for t in first["items"]] == ids[:0:-1]
    second = requests.get(first["next"], headers=auth).json()
    assert [t["id"] for t in second["items"]] == [ids[0]] and second.get("next") is None
    assert requests.get(node.url + "/v1/triggers?source=slack", headers=auth).json()["items"] == []
    assert requests.get(node.url + "/v1/triggers?state=bogus", headers=auth).status_code == 400
    assert requests.get(node.url + "/v1/triggers", headers={"Authorization": "Bearer x"}).status_code == 401
    assert [t["trigger"]["caller"] for t in first["items"]] == ["ci", "ci"]
