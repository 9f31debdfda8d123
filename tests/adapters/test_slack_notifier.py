"""The Slack notifier against a real local HTTP server standing in for ``response_url``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from webhook.adapters.slack_notifier import MAX_POSTS, STARTED_MAX_POSTS, SlackNotifier
from webhook.core.triggers import (
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryOutline,
    DeliveryState,
)
from webhook.sources import slack_messages
from webhook.sources.slack import response_url_policy

from tests.support.node import free_port

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
BODY = {"id": "task-1", "status": "SUCCESSFUL", "outcome": "success", "startedAt": "2026-01-05T10:00:00Z",
        "completedAt": "2026-01-05T10:03:05Z", "resources": [{"type": "SDDC_MANAGER", "name": "sddc"}],
        "trigger": {"id": "trg_1", "reason": "pre-change"}}


class FakeStore:
    """Only what the notifier reads: a trigger's deliveries."""

    def __init__(self, *deliveries: Delivery) -> None:
        self.deliveries = list(deliveries)

    def delivery_outlines(self, trigger_ids: list[str]) -> dict[str, list[DeliveryOutline]]:
        return {t: [DeliveryOutline.of(d) for d in self.deliveries if d.trigger_id == t] for t in trigger_ids}


def delivery(url: str, event: DeliveryEvent = DeliveryEvent.COMPLETED, *, attempts: int = 0,
             state: DeliveryState = DeliveryState.PENDING, options: dict | None = None) -> Delivery:
    return Delivery(
        trigger_id="trg_1", event=event, body=BODY, state=state, created_at=NOW, next_attempt_at=NOW,
        give_up_at=NOW + timedelta(hours=1),
        target=CallbackTarget(kind="slack", url=url, options={"response_type": "ephemeral"} if options is None
                              else options),
        attempts=[DeliveryAttempt(at=NOW, status_code=503) for _ in range(attempts)],
    )


@pytest.fixture
def notifier(receiver) -> SlackNotifier:
    return SlackNotifier(slack_messages.for_delivery, response_url_policy([receiver.host]).check, timeout=5)


def test_result_is_posted_as_block_kit_with_text_fallback(notifier, receiver):
    result = notifier.send(delivery(receiver.url("/commands/1"), options={"response_type": "in_channel"}))
    assert result.ok and result.status_code == 200
    [post] = receiver.received
    assert post.headers["Content-Type"].startswith("application/json")
    message = post.json()
    assert message["response_type"] == "in_channel"
    assert message["text"] == "Backup SUCCESSFUL: SDDC Manager task task-1, 3 min 05 s"
    assert message["blocks"][0]["type"] == "header"


def test_response_type_defaults_to_ephemeral(notifier, receiver):
    assert notifier.send(delivery(receiver.url(), options={})).ok
    assert receiver.received[0].json()["response_type"] == "ephemeral"


def test_429_is_retried_after_retry_after_with_exactly_one_post(notifier, receiver):
    receiver.fail_next(1, 429, {"Retry-After": "7"})
    result = notifier.send(delivery(receiver.url()))
    assert not result.ok and not result.permanent
    assert result.status_code == 429 and result.retry_after == 7.0
    assert receiver.received == []  # no second, in-process attempt reached the receiver


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_later(notifier, receiver, status):
    receiver.fail_next(1, status)
    result = notifier.send(delivery(receiver.url()))
    assert not result.ok and not result.permanent and result.status_code == status
    assert receiver.received == []


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_client_errors_like_an_expired_url_are_final(notifier, receiver, status):
    receiver.fail_next(1, status)
    result = notifier.send(delivery(receiver.url()))
    assert not result.ok and result.permanent and result.status_code == status
    assert "try later" in (result.error or "")  # Slack's error body (e.g. expired_url) is kept for the log


def test_a_redirect_is_reported_not_followed(notifier, receiver):
    receiver.fail_next(1, 302, {"Location": receiver.url("/elsewhere")})
    result = notifier.send(delivery(receiver.url()))
    assert not result.ok and result.permanent and result.status_code == 302
    assert receiver.received == []


def test_connection_failure_is_retried(notifier):
    result = SlackNotifier(slack_messages.for_delivery, response_url_policy(["127.0.0.1"]).check, timeout=2).send(
        delivery(f"https://127.0.0.1:{free_port()}/x"))
    assert not result.ok and not result.permanent and result.status_code is None


def test_host_is_rechecked_at_send_time(receiver):
    strict = SlackNotifier(slack_messages.for_delivery, response_url_policy(["hooks.slack.com"]).check)
    result = strict.send(delivery(receiver.url()))
    assert not result.ok and result.permanent
    assert receiver.received == []


# ------------------------------------------------------------------ Slack's 5 posts per command
def test_without_a_store_start_gets_two_posts_and_result_three(notifier, receiver):
    url = receiver.url()
    assert notifier.send(delivery(url, DeliveryEvent.STARTED, attempts=STARTED_MAX_POSTS - 1)).ok
    assert notifier.send(delivery(url, DeliveryEvent.STARTED, attempts=STARTED_MAX_POSTS)).permanent
    assert notifier.send(delivery(url, attempts=MAX_POSTS - STARTED_MAX_POSTS - 1)).ok
    assert notifier.send(delivery(url, attempts=MAX_POSTS - STARTED_MAX_POSTS)).permanent
    assert len(receiver.received) == 2


def test_the_last_allowed_post_failing_is_final_rather_than_retried_into_a_refusal(notifier, receiver):
    receiver.fail_next(1, 503)
    result = notifier.send(delivery(receiver.url(), DeliveryEvent.STARTED, attempts=STARTED_MAX_POSTS - 1))
    assert result.permanent and result.status_code == 503 and "not retried" in (result.error or "")


def with_store(receiver, *others: Delivery) -> SlackNotifier:
    return SlackNotifier(slack_messages.for_delivery, response_url_policy([receiver.host]).check,
                         store=FakeStore(*others), timeout=5)  # type: ignore[arg-type]


def test_result_may_use_the_posts_the_start_message_did_not_need(receiver):
    url = receiver.url()
    start = delivery(url, DeliveryEvent.STARTED, attempts=1, state=DeliveryState.DELIVERED)
    assert with_store(receiver, start).send(delivery(url, attempts=3)).ok  # 1 + 3 earlier + this one = 5
    refused = with_store(receiver, start).send(delivery(url, attempts=4))
    assert refused.permanent and "5 response_url posts" in (refused.error or "")
    assert len(receiver.received) == 1


def test_result_reserves_the_start_messages_share_while_it_may_still_post(receiver):
    pending_start = delivery(receiver.url(), DeliveryEvent.STARTED, attempts=0)
    notifier = with_store(receiver, pending_start)
    assert notifier.send(delivery(receiver.url(), attempts=2)).ok
    assert notifier.send(delivery(receiver.url(), attempts=3)).permanent


def test_start_message_is_dropped_once_the_result_is_owed(receiver):
    result = with_store(receiver, delivery(receiver.url())).send(delivery(receiver.url(), DeliveryEvent.STARTED))
    assert result.permanent and "late" in (result.error or "")
    assert receiver.received == []


def test_a_duplicate_start_message_is_not_posted_twice(receiver):
    first = delivery(receiver.url(), DeliveryEvent.STARTED, attempts=1, state=DeliveryState.DELIVERED)
    result = with_store(receiver, first).send(delivery(receiver.url(), DeliveryEvent.STARTED))
    assert result.permanent and receiver.received == []


class AlwaysBusy:
    """A response_url that answers every post with 503 and counts them."""

    def __init__(self) -> None:
        self.posts = 0
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.host = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        self.posts += 1
        return Response("busy", status=503)(environ, start_response)


def test_retrying_forever_never_exceeds_five_posts():
    """Drive both deliveries the way the worker does: record each attempt, stop when one is final."""
    busy = AlwaysBusy()
    url = f"http://{busy.host}/commands/1"
    start, end = delivery(url, DeliveryEvent.STARTED), delivery(url)
    store = FakeStore(start)
    notifier = SlackNotifier(slack_messages.for_delivery, response_url_policy([busy.host]).check, store=store)
    try:
        for current in (start, end):
            if current is end:
                store.deliveries.append(end)
            for _ in range(20):
                result = notifier.send(current)
                current.attempts.append(DeliveryAttempt(at=NOW, status_code=result.status_code))
                if result.permanent:
                    current.state = DeliveryState.GAVE_UP
                    break
    finally:
        busy.server.shutdown()
        busy.server.server_close()
    assert busy.posts == MAX_POSTS
    assert len(start.attempts) == STARTED_MAX_POSTS and len(end.attempts) == MAX_POSTS - STARTED_MAX_POSTS
