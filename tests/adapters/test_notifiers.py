from __future__ import annotations

from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from webhook.adapters.notifiers import WebhookNotifier, sign_standard_webhook
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.triggers import CallbackTarget, Delivery

from tests.conftest import SIGNING_SECRET


def test_standard_webhooks_published_vector():
    signature = sign_standard_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                      1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def delivery_to(url: str) -> Delivery:
    now = datetime.now(UTC)
    return Delivery(trigger_id="trg_1", target=CallbackTarget(url=url), body={"status": "SUCCESSFUL"},
                    created_at=now, next_attempt_at=now, give_up_at=now + timedelta(hours=1))


def test_signed_post_has_stable_id_and_verifies(receiver):
    notifier = WebhookNotifier(CallbackPolicy(HostAllowlist.of([receiver.host]), allow_http=True), SIGNING_SECRET)
    delivery = delivery_to(receiver.url())
    assert notifier.send(delivery).ok
    assert notifier.send(delivery).ok
    first, second = receiver.wait_for(2)
    assert first.headers["Webhook-Id"] == second.headers["Webhook-Id"] == delivery.id
    assert Webhook(SIGNING_SECRET).verify(second.body, second.headers)["status"] == "SUCCESSFUL"


def test_redirects_are_not_followed(receiver):
    receiver.fail_next(1, status=302, headers={"Location": "http://169.254.169.254/"})
    notifier = WebhookNotifier(CallbackPolicy(HostAllowlist.of([receiver.host]), allow_http=True))
    result = notifier.send(delivery_to(receiver.url()))
    assert not result.ok and result.status_code == 302
    assert result.permanent and "redirect" in (result.error or "")  # never followed: asking again cannot help


def test_retry_after_and_gone_are_reported(receiver):
    notifier = WebhookNotifier(CallbackPolicy(HostAllowlist.of([receiver.host]), allow_http=True))
    receiver.fail_next(1, status=429, headers={"Retry-After": "7"})
    assert notifier.send(delivery_to(receiver.url())).retry_after == 7
    receiver.fail_next(1, status=410)
    assert notifier.send(delivery_to(receiver.url())).permanent


def test_host_removed_from_allowlist_is_refused_at_send_time(receiver):
    notifier = WebhookNotifier(CallbackPolicy(HostAllowlist.of(["other.example.com"]), allow_http=True))
    result = notifier.send(delivery_to(receiver.url()))
    assert result.permanent and "allowlist" in (result.error or "")
    assert receiver.received == []


def test_callbacks_go_through_the_proxy_the_environment_names(receiver, monkeypatch):
    monkeypatch.setenv("http_proxy", receiver.base)  # the receiver plays the proxy: it gets the absolute URL
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    notifier = WebhookNotifier(CallbackPolicy(HostAllowlist.of(["callback.invalid:9"]), allow_http=True))
    assert notifier.send(delivery_to("http://callback.invalid:9/through-proxy")).ok
    [seen] = receiver.wait_for(1)
    assert seen.path == "/through-proxy"
