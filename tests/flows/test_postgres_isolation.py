"""Isolation on PostgreSQL (issue 13), on the real server the suite starts: no duplicate callbacks on
two nodes without a crash, one bad row never fails its batch, schema creation by nodes that start
together, and readiness that notices a store which can no longer be written."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
import sqlalchemy as sa

from webhook.adapters.store import SqlStore
from webhook.core.errors import InvalidRequest
from webhook.core.triggers import Trigger
from webhook.sources.generic import default_spec

from tests.support.node import InProcessNode
from tests.support.postgres import binaries, fresh_database, postgres_server

pytestmark = pytest.mark.skipif(binaries() is None, reason="PostgreSQL server binaries are not installed "
                                                            "(.ci/run installs Debian's postgresql)")


@pytest.fixture(scope="module")
def server_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def database(server_url):
    """A fresh, empty database on the module's server for each test."""
    return fresh_database(server_url)


def test_two_nodes_send_each_callback_once_when_receivers_answer_slower_than_the_lease(
        database, make_settings, receiver, auth):
    receiver.answer_after = 3.0  # longer than the worker lease below
    settings = make_settings(database_url=database, worker_lease=2)
    nodes = [InProcessNode(settings, workers=2).start() for _ in range(2)]
    try:
        for i in range(8):
            answer = requests.post(nodes[i % 2].url + "/v1/triggers", headers=auth,
                                   json={"callbackUrl": receiver.url(), "reason": f"r{i}"}, timeout=10)
            assert answer.status_code == 202
        receiver.wait_for(8, timeout=60)
        threading.Event().wait(6)  # a duplicate would go out when a lease lapses: give it the time
        ids = Counter(c.headers["Webhook-Id"] for c in receiver.received)
        assert len(ids) == 8 and set(ids.values()) == {1}, ids
    finally:
        for node in nodes:
            node.stop()


def test_a_nul_byte_is_refused_alone_and_the_concurrent_valid_triggers_are_all_accepted(
        database, make_settings, auth):
    node = InProcessNode(make_settings(database_url=database), start_workers=False).start()
    try:
        def fire(i: int) -> int:
            body = {"reason": "bad\u0000reason" if i == 0 else f"good {i}"}
            return requests.post(node.url + "/v1/triggers", headers=auth, json=body, timeout=30).status_code

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(fire, range(201)))
        assert codes[0] == 400
        assert Counter(codes[1:]) == {202: 200}
    finally:
        node.stop()


def test_a_row_the_database_refuses_fails_alone_in_its_group_commit(database):
    store = SqlStore.from_url(database)
    barrier = threading.Barrier(20)

    def add(i: int) -> str:
        reason = "bad\u0000row" if i == 7 else f"row {i}"
        trigger = Trigger(source="generic", caller="ci", spec=default_spec(), reason=reason,
                          received_at=__import__("datetime").datetime.now(__import__("datetime").UTC))
        barrier.wait()
        try:
            store.add_trigger(trigger)
        except InvalidRequest:
            return "refused"
        return "stored"

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(add, range(20)))
    assert outcomes[7] == "refused"
    assert outcomes.count("stored") == 19
    store.engine.dispose()


def test_nodes_starting_together_on_an_empty_database_all_create_the_schema(server_url):
    for _ in range(3):
        url = fresh_database(server_url, "s")
        barrier = threading.Barrier(4)

        def start(_: int, barrier: threading.Barrier = barrier, url: str = url) -> str:
            barrier.wait()
            try:
                SqlStore.from_url(url).engine.dispose()
            except Exception as exc:  # the failure the test looks for
                return type(exc).__name__
            return "ok"

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert list(pool.map(start, range(4))) == ["ok"] * 4


def until_ready(url: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(url + "/readyz", timeout=10).status_code == 200:
            return True
        time.sleep(0.1)
    return False


def test_readyz_is_503_while_the_store_refuses_writes(database, make_settings):
    # No worker threads: the engine is disposed below, and a connection checked out by a worker at that
    # moment would be dropped unclosed (a ResourceWarning later, in another test). A heartbeat written
    # here stands in for the worker, so /readyz is 200 until the store refuses writes.
    node = InProcessNode(make_settings(database_url=database), start_workers=False).start()
    name = database.rsplit("/", 1)[1]
    admin = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        node.store.heartbeat("stand-in", datetime.now(UTC))
        assert until_ready(node.url)
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {name} SET default_transaction_read_only = on"))
        node.store.engine.dispose()  # new sessions pick the setting up
        answer = requests.get(node.url + "/readyz", timeout=10)
        assert answer.status_code == 503
        assert "write" in answer.json()["checks"]["store"]
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE {name} SET default_transaction_read_only = off"))
        admin.dispose()
        node.stop()
