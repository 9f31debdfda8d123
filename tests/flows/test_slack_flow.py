"""``/vcf-backup`` end to end over real HTTP: signed slash command → ack → backup → start and
result messages on a local stand-in for Slack's response_url."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import itertools
import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from tests.support.node import InProcessNode

SLACK_SECRET = "test-slack-signing-secret-0123"
_ids = itertools.count(1)


@pytest.fixture
def slack_node(make_settings, receiver) -> Iterator[InProcessNode]:
    running = InProcessNode(make_settings(slack_signing_secret=SLACK_SECRET,
                                          slack_response_hosts=[receiver.host])).start()
    yield running
    running.stop()


def slack_form(receiver, text: str = "", *, user: str = "U100", team: str = "T100", channel: str = "C100",
               trigger_id: str | None = None, response_path: str | None = None, response_url: str | None = None,
               ) -> bytes:
    n = next(_ids)
    return urlencode({
        "token": "deprecated-verification-token", "team_id": team, "team_domain": "ops", "channel_id": channel,
        "channel_name": "vcf-ops", "user_id": user, "user_name": f"name-of-{user}", "command": "/vcf-backup",
        "text": text, "api_app_id": "A100",
        "response_url": response_url or receiver.url(response_path or f"/commands/{team}/{n}/secret{n}"),
        "trigger_id": trigger_id or f"{n}.{n}.trigger{n}",
    }).encode()


def signed_headers(body: bytes, *, secret: str = SLACK_SECRET, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}"}


def send(node, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(node.url + "/hooks/slack", data=body, headers=headers or signed_headers(body), timeout=10)


def command(node, receiver, text: str = "", **form: str) -> requests.Response:
    return send(node, slack_form(receiver, text, **form))


def trigger_id_in(response: requests.Response) -> str:
    found = re.search(r"trg_[0-9a-f]+", response.json()["text"])
    assert found, response.json()
    return found.group(0)


def stored_triggers(node) -> list:
    return node.store.list_triggers(source=None, state=None, since=None, limit=50)


def settled_deliveries(node, trigger_id: str, count: int, timeout: float = 10.0) -> list:
    """The trigger's deliveries once ``count`` of them have left PENDING (the post lands before the record)."""
    deadline = time.monotonic() + timeout
    while True:
        found = node.store.deliveries_of_trigger(trigger_id)
        if sum(d.state.value != "PENDING" for d in found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def ended_posts(receiver, count: int, timeout: float = 20.0) -> dict[str, dict]:
    """The "Backup SUCCESSFUL" posts by path, once ``count`` of them have come."""
    deadline = time.monotonic() + timeout
    while True:
        ends = {p.path: p.json() for p in list(receiver.received) if p.json()["text"].startswith("Backup SUCCESSFUL")}
        if len(ends) >= count or time.monotonic() > deadline:
            return ends
        time.sleep(0.05)


def test_backup_is_acked_then_start_and_result_are_posted_to_response_url(slack_node, simulator, receiver):
    response = command(slack_node, receiver, "backup before the NSX upgrade", response_path="/commands/T100/1/abc")

    assert response.status_code == 200
    ack = response.json()
    assert ack["response_type"] == "ephemeral"
    trigger_id = trigger_id_in(response)
    assert f"status {trigger_id}" in ack["text"]

    started, ended = receiver.wait_for(2)
    assert {started.path, ended.path} == {"/commands/T100/1/abc"}
    start, end = started.json(), ended.json()
    assert start["response_type"] == end["response_type"] == "ephemeral"
    assert start["text"].startswith("Backup started")
    task_id = simulator.state.task_views()[0]["id"]
    assert task_id and task_id in start["text"]
    assert end["text"].startswith(f"Backup SUCCESSFUL: SDDC Manager task {task_id}")
    assert end["blocks"][0]["type"] == "header" and "SUCCESSFUL" in end["blocks"][0]["text"]["text"]
    fields = " ".join(f["text"] for f in end["blocks"][1]["fields"])
    assert "Duration" in fields and "SDDC_MANAGER" in fields and "before the NSX upgrade" in fields

    trigger = slack_node.store.get_trigger(trigger_id)
    assert trigger.context["slack"]["user_id"] == "U100"
    assert trigger.context["slack"]["user_name"] == "name-of-U100"
    assert trigger.reason == "before the NSX upgrade"
    deliveries = settled_deliveries(slack_node, trigger_id, 2)
    assert sorted(d.event.value for d in deliveries) == ["backup.completed", "backup.started"]
    assert all(d.state.value == "DELIVERED" and len(d.attempts) == 1 for d in deliveries)
    assert simulator.state.backups_started == 1


def test_failed_backup_posts_sddc_managers_message_and_remediation(make_settings, simulator, receiver):
    simulator.state.update_config(outcome="FAILED")
    node = InProcessNode(make_settings(slack_signing_secret=SLACK_SECRET, slack_response_hosts=[receiver.host],
                                       slack_response_type="in_channel")).start()
    try:
        command(node, receiver)
        _, ended = receiver.wait_for(2)
    finally:
        node.stop()
    end = ended.json()
    assert end["response_type"] == "in_channel"
    assert end["text"].startswith("Backup FAILED")
    error_blocks = [b["text"]["text"] for b in end["blocks"] if b["type"] == "section" and "text" in b]
    assert any("Remediation" in text for text in error_blocks)
    assert "Remediation:" in end["text"]


def test_unauthorised_user_is_refused_politely_and_nothing_starts(make_settings, simulator, receiver):
    node = InProcessNode(make_settings(slack_signing_secret=SLACK_SECRET, slack_response_hosts=[receiver.host],
                                       slack_allowed_users=["U_OPS"])).start()
    try:
        refused = command(node, receiver, "backup", user="U_INTRUDER")
        for_status = command(node, receiver, "status", user="U_INTRUDER")
        time.sleep(0.5)  # give a worker the chance to do something it must not do
        assert refused.status_code == 200 and for_status.status_code == 200
        assert refused.json()["response_type"] == "ephemeral"
        assert "not allowed" in refused.json()["text"] and "Nothing was started" in refused.json()["text"]
        assert "not allowed" in for_status.json()["text"]
        assert stored_triggers(node) == []
        assert simulator.state.backups_started == 0
        assert receiver.received == []

        allowed = command(node, receiver, "backup", user="U_OPS")
        assert trigger_id_in(allowed)
    finally:
        node.stop()


def test_help_and_unknown_subcommands_answer_with_usage(slack_node, receiver, simulator):
    helped = command(slack_node, receiver, "help").json()
    assert "status [trigger-id]" in helped["text"]
    mistyped = command(slack_node, receiver, "stauts").json()
    assert "`stauts`" in mistyped["text"] and "status [trigger-id]" in mistyped["text"]
    assert stored_triggers(slack_node) == []
    assert simulator.state.backups_started == 0


def test_status_shows_the_latest_or_a_given_trigger(slack_node, simulator, receiver):
    assert "No backup has been requested" in command(slack_node, receiver, "status").json()["text"]
    trigger_id = trigger_id_in(command(slack_node, receiver, "backup"))
    receiver.wait_for(2)
    task_id = simulator.state.task_views()[0]["id"]

    latest = command(slack_node, receiver, "status").json()
    given = command(slack_node, receiver, f"status {trigger_id}").json()
    for answer in (latest, given):
        assert answer["response_type"] == "ephemeral"
        assert answer["text"] == f"Trigger {trigger_id}: DONE · backup SUCCESSFUL, SDDC task {task_id}"
        fields = " ".join(f["text"] for f in answer["blocks"][1]["fields"])
        assert "*Elapsed*" in fields
    unknown = command(slack_node, receiver, "status trg_00000000000000000000").json()
    assert "no trigger with id trg_00000000000000000000" in unknown["text"]
    assert simulator.state.backups_started == 1


@pytest.mark.parametrize("case", ["stale timestamp", "wrong signature", "missing headers", "non-numeric timestamp",
                                  "wrong secret"])
def test_unverified_requests_get_401_and_change_nothing(slack_node, simulator, receiver, case):
    body = slack_form(receiver, "backup")
    headers = {
        "stale timestamp": signed_headers(body, timestamp=str(int(time.time()) - 301)),
        "wrong signature": {**signed_headers(body), "X-Slack-Signature": "v0=" + "0" * 64},
        "missing headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "non-numeric timestamp": {**signed_headers(body), "X-Slack-Request-Timestamp": "yesterday"},
        "wrong secret": signed_headers(body, secret="not-the-secret"),
    }[case]
    response = send(slack_node, body, headers)
    assert response.status_code == 401
    error = response.json()
    assert error["errorCode"] == "VCFBACKUP_UNAUTHENTICATED" and error["referenceToken"]
    time.sleep(0.3)
    assert stored_triggers(slack_node) == []
    assert simulator.state.backups_started == 0
    assert receiver.received == []


def test_response_url_off_the_allowlist_gets_an_error_and_starts_nothing(slack_node, simulator, receiver):
    answer = command(slack_node, receiver, "backup", response_url="https://collector.example.net/x").json()
    assert answer["response_type"] == "ephemeral"
    assert "not on the allowlist" in answer["text"] and "Nothing was started" in answer["text"]
    assert stored_triggers(slack_node) == []
    assert simulator.state.backups_started == 0


def test_same_trigger_id_or_a_slack_retry_starts_no_second_backup(slack_node, simulator, receiver):
    body = slack_form(receiver, "backup", trigger_id="777.777.same")
    first = send(slack_node, body)
    again = send(slack_node, body)  # same trigger_id, freshly signed
    retried = send(slack_node, body, {**signed_headers(body), "X-Slack-Retry-Num": "1",
                                      "X-Slack-Retry-Reason": "http_timeout"})

    assert trigger_id_in(first) == trigger_id_in(again)
    assert "Already requested" in again.json()["text"]
    assert retried.status_code == 200 and "resending" in retried.json()["text"]
    receiver.wait_for(2)
    time.sleep(0.3)
    assert len(receiver.received) == 2
    assert len(stored_triggers(slack_node)) == 1
    assert simulator.state.backups_started == 1


def test_two_users_at_once_ride_one_backup_and_both_get_their_result(slack_node, simulator, receiver):
    bodies = [slack_form(receiver, "backup", user=user, response_path=f"/commands/T100/{user}")
              for user in ("U_ALICE", "U_BOB")]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        acks = list(pool.map(lambda body: send(slack_node, body), bodies))
    assert len({trigger_id_in(ack) for ack in acks}) == 2

    ends = ended_posts(receiver, 2)  # a command that came once the backup ran was told so in its ack
    assert set(ends) == {"/commands/T100/U_ALICE", "/commands/T100/U_BOB"}
    assert len({end["text"] for end in ends.values()}) == 1  # the same SDDC task for both
    assert "<@U_ALICE>" in str(ends["/commands/T100/U_ALICE"]["blocks"])
    assert simulator.state.backups_started == 1


def test_a_response_url_that_keeps_failing_gets_at_most_five_posts(slack_node, simulator, receiver):
    receiver.down_status = 503
    trigger_id = trigger_id_in(command(slack_node, receiver, "backup"))
    deliveries = settled_deliveries(slack_node, trigger_id, 2, timeout=20)
    assert [d.state.value for d in deliveries] == ["GAVE_UP", "GAVE_UP"]
    posts = [a for d in deliveries for a in d.attempts if a.status_code == 503]
    assert 3 <= len(posts) <= 5  # the start message may be dropped once the result is owed
    [end] = [d for d in deliveries if d.event.value == "backup.completed"]
    assert "not retried" in (end.last_error or "")


def test_a_signed_body_that_is_not_a_slash_command_is_a_400(slack_node, simulator):
    body = b"text=backup"
    response = send(slack_node, body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VCFBACKUP_INVALID_REQUEST"
    assert stored_triggers(slack_node) == []

