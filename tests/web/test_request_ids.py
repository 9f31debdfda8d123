"""Made request ids are unique in a process and across forked gunicorn workers."""

from __future__ import annotations

import io
import json
import logging
import os
import re

from webhook.app import Services, build_store, create_app
from webhook.logs import JsonFormatter, LineHandler
from webhook.web.request_ids import _ids

from tests.conftest import API_TOKEN


def test_made_ids_are_16_hex_characters_and_never_repeat() -> None:
    made = [_ids.next() for _ in range(1000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in made)


def test_a_forked_worker_makes_ids_with_its_own_prefix() -> None:
    parent = _ids.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        os.write(write, _ids.next().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16 and child[:8] != parent[:8]


def test_the_services_audit_line_carries_the_request_id(make_settings) -> None:
    """The id is added by the handler's filter: a logger's own filters never see its children's records."""
    logger = logging.getLogger("webhook")
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    try:
        settings = make_settings()
        client = create_app(settings, services=Services(settings=settings, store=build_store(settings))).test_client()
        answer = client.post("/v1/triggers", json={"reason": "r"},
                             headers={"Authorization": f"Bearer {API_TOKEN}", "X-Request-Id": "rid-7"})
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [accepted] = [line for line in lines if line.get("event") == "trigger.accepted"]
    assert accepted["request_id"] == "rid-7" and accepted["trigger_id"] == answer.get_json()["id"]
