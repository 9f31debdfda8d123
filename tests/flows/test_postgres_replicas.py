"""Two replicas (each a web server and two worker loops) on one PostgreSQL behave like one."""

from __future__ import annotations

import concurrent.futures

import pytest
import requests

from tests.support.node import InProcessNode
from tests.support.postgres import binaries, postgres_server

pytestmark = pytest.mark.skipif(binaries() is None, reason="PostgreSQL server binaries are not installed "
                                                            "(.ci/run installs Debian's postgresql)")


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


def test_two_replicas_on_postgresql_start_one_backup_and_deliver_every_callback(
        postgres_url, make_settings, simulator, receiver, auth):
    settings = make_settings(database_url=postgres_url)
    replicas = [InProcessNode(settings, workers=2).start() for _ in range(2)]
    try:
        def fire(i: int) -> int:
            node = replicas[i % 2]
            return requests.post(node.url + "/v1/triggers", headers=auth,
                                 json={"reason": f"r{i}", "callbackUrl": receiver.url()}).status_code

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            assert list(pool.map(fire, range(20))) == [202] * 20
        callbacks = receiver.wait_for(20, timeout=30)
        assert len({c.json()["trigger"]["id"] for c in callbacks}) == 20
        assert {c.json()["status"] for c in callbacks} == {"SUCCESSFUL"}
        assert simulator.state.backups_started == 1
        again = requests.post(replicas[1].url + "/v1/triggers", headers={**auth, "Idempotency-Key": "k1"}, json={})
        same = requests.post(replicas[0].url + "/v1/triggers", headers={**auth, "Idempotency-Key": "k1"}, json={})
        assert again.json()["id"] == same.json()["id"]
    finally:
        for node in replicas:
            node.stop()
