"""The Alertmanager receiver: payloads captured from a real Alertmanager, auth, matchers, elements,
cooldown identity, and every malformed request answered with a clean 4xx Error body.

tests/payloads/alertmanager_0_25_0_*.json were captured from Debian's prometheus-alertmanager 0.25.0
(``python -m tests.support.alertmanager capture tests/payloads``). Fields that newer versions add
(``notification_reason`` 0.32, ``routeLabels`` 0.34) are layered onto a captured payload, as
trigger-protocols.md section 1 documents them; no newer binary is packaged for Debian.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from webhook.adapters.store import SqlStore
from webhook.app import Services, build_store, create_app
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.errors import CallbackRefused, InvalidRequest, StoreUnavailable, Unauthenticated
from webhook.core.intake import Intake
from webhook.core.triggers import Delivery, Trigger, TriggerState
from webhook.sources import alertmanager
from webhook.sources.alertmanager import AlertmanagerConfig, correlation_key, decide, parse
from webhook.sources.matchers import parse_matchers

from tests.fakes import FakeClock
from tests.support.node import InProcessNode

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
TOKEN = "am-token-0123456789"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = CallbackPolicy(HostAllowlist.of(["hooks.example.com"]))


def captured(case: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"alertmanager_0_25_0_{case}.json").read_text(encoding="utf-8"))


def raw(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def many_alerts(count: int, *, extra: str = "") -> dict[str, Any]:
    """A notification of ``count`` alerts shaped exactly like the captured ones."""
    payload = captured("firing")
    template = payload["alerts"][0]
    payload["alerts"] = [
        {**template, "labels": {**template["labels"], "datastore": f"ds-{i:04d}"},
         "annotations": {**template["annotations"], "description": extra}, "fingerprint": f"{i:016x}"}
        for i in range(count)]
    return payload


class Recent:
    """A stand-in for ``store.recent_correlated`` that remembers what it was asked."""

    def __init__(self, found: Trigger | None = None) -> None:
        self.found = found
        self.asked: list[tuple[str, str, datetime]] = []

    def __call__(self, source: str, key: str, since: datetime) -> Trigger | None:
        self.asked.append((source, key, since))
        return self.found


def run(payload: dict[str, Any], config: AlertmanagerConfig | None = None, recent: Recent | None = None,
        at: datetime = NOW) -> Intake:
    return decide(parse(raw(payload)), config or AlertmanagerConfig(token=TOKEN), received_at=at,
                  recent_correlated=recent or Recent(), callback_policy=POLICY)


# ---------------------------------------------------------------------------------------- parsing
def test_captured_firing_notification_parses_with_fingerprints():
    note = parse((PAYLOADS / "alertmanager_0_25_0_firing.json").read_bytes())
    assert note.version == "4" and note.status == "firing"
    assert note.groupKey.startswith('{}/{vcf_backup="true"}:')
    assert len(note.firing()) == 4
    assert all(len(a.fingerprint or "") == 16 for a in note.alerts)
    assert note.notification_reason is None and note.routeLabels is None


def test_captured_truncated_notification_keeps_the_dropped_count():
    note = parse(raw(captured("truncated")))
    assert note.truncatedAlerts == 2 and len(note.alerts) == 2
    assert run(captured("truncated")).trigger.context["truncatedAlerts"] == 2


def test_alertmanager_0_34_fields_and_unknown_keys_are_accepted():
    payload = captured("firing") | {"notification_reason": "first notification", "routeLabels": {"team": "vcf"},
                                    "fieldFromTheFuture": {"x": 1}}
    payload["alerts"][0]["newAlertField"] = [1, 2]
    context = run(payload).trigger.context
    assert context["notificationReason"] == "first notification"
    assert context["routeLabels"] == {"team": "vcf"}


def test_payload_without_truncated_alerts_field_still_parses():
    payload = captured("firing")
    del payload["truncatedAlerts"]
    assert parse(raw(payload)).truncatedAlerts == 0


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda p: p.pop("alerts"), "alerts"),
    (lambda p: p.update(alerts="all of them"), "alerts"),
    (lambda p: p.update(alerts=None), "alerts"),
    (lambda p: p.update(version="3"), 'version "4"'),
    (lambda p: p.update(status="pending"), "status"),
    (lambda p: p.update(groupKey=""), "groupKey"),
    (lambda p: p.update(truncatedAlerts=-1), "truncatedAlerts"),
    (lambda p: p["alerts"][0].update(labels={"alertname": 5}), "labels"),
    (lambda p: p["alerts"][0].pop("status"), "status"),
    (lambda p: p["alerts"].append("not an alert"), "alerts.4"),
])
def test_malformed_notifications_are_invalid_requests(mutate, fragment):
    payload = captured("firing")
    mutate(payload)
    with pytest.raises(InvalidRequest, match="Alertmanager notification") as caught:
        parse(raw(payload))
    assert fragment in caught.value.message


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1,2]", b"\xff\xfe", b'"firing"'])
def test_bodies_that_are_not_a_json_object_are_invalid_requests(body):
    with pytest.raises(InvalidRequest):
        parse(body)


# ------------------------------------------------------------------------------------------- auth
def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BOTH = AlertmanagerConfig(token=TOKEN, username="alertmanager", password="pa:ss")


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer  {TOKEN} ", basic("alertmanager", "pa:ss")])
def test_configured_bearer_token_or_basic_pair_is_accepted(header):
    alertmanager.authenticate(header, BOTH)


@pytest.mark.parametrize("header", [
    None, "", f"Bearer {TOKEN}x", "Bearer ", TOKEN, basic("alertmanager", "wrong"), basic("root", "pa:ss"),
    "Basic not-base64!!", "Basic " + base64.b64encode(b"no-colon").decode(), f"Token {TOKEN}",
])
def test_wrong_or_missing_credentials_are_refused(header):
    with pytest.raises(Unauthenticated):
        alertmanager.authenticate(header, BOTH)


def test_with_no_credentials_configured_everything_is_refused():
    for header in (f"Bearer {TOKEN}", basic("", ""), None):
        with pytest.raises(Unauthenticated, match="no credentials configured"):
            alertmanager.authenticate(header, AlertmanagerConfig())


def test_only_the_configured_scheme_is_accepted():
    with pytest.raises(Unauthenticated):
        alertmanager.authenticate(basic("alertmanager", "pa:ss"), AlertmanagerConfig(token=TOKEN))
    with pytest.raises(Unauthenticated):
        alertmanager.authenticate(f"Bearer {TOKEN}", AlertmanagerConfig(username="u", password="p"))


def test_credentials_are_compared_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(alertmanager.hmac, "compare_digest", spy)
    with pytest.raises(Unauthenticated):
        alertmanager.authenticate("Bearer x", BOTH)
    with pytest.raises(Unauthenticated):
        alertmanager.authenticate(basic("nobody", "pa:ss"), BOTH)
    # One digest comparison for the token; user and password are both compared even when the user is wrong.
    assert len(calls) == 3
    assert all(len(a) == len(b) == 32 for a, b in calls)  # hashed first, so lengths leak nothing


# ------------------------------------------------------------------------------- decide/translate
def test_firing_notification_becomes_one_trigger_with_context():
    decision = run(captured("firing"))
    trigger = decision.trigger
    assert decision.skip_reason is None
    assert (trigger.source, trigger.caller) == ("alertmanager", "alertmanager")
    assert [e.resourceType for e in trigger.spec.elements] == ["SDDC_MANAGER"]
    assert "4 firing alert(s): VcfDatastoreAlmostFull" in (trigger.reason or "")
    assert trigger.context["groupKey"] == captured("firing")["groupKey"]
    assert trigger.context["receiver"] == "vcf-backup"
    assert trigger.context["externalURL"] == "http://alertmanager.test:9093"
    assert sorted(trigger.context["fingerprints"]) == sorted(a["fingerprint"] for a in captured("firing")["alerts"])
    assert trigger.correlation_key and trigger.dedupe_key


def test_resolved_notification_starts_nothing_and_says_why():
    decision = run(captured("resolved"))
    assert decision.skip_reason and decision.skip_reason.startswith("resolved")


def test_cooldown_identity_is_the_group_and_its_firing_fingerprints():
    mixed = run(captured("mixed")).trigger
    firing = [a for a in parse(raw(captured("mixed"))).alerts if a.status == "firing"]
    assert mixed.correlation_key == correlation_key(captured("mixed")["groupKey"], firing)
    assert mixed.context["matchedFiring"] == 2
    # A new alert in the group is a new identity; reordering the alerts is not.
    reordered = captured("firing")
    reordered["alerts"].reverse()
    assert run(reordered).trigger.correlation_key == run(captured("firing")).trigger.correlation_key
    assert mixed.correlation_key != run(captured("firing")).trigger.correlation_key


def test_same_firing_set_inside_the_cooldown_is_skipped():
    earlier = run(captured("firing")).trigger
    recent = Recent(found=earlier)
    decision = run(captured("firing"), recent=recent, at=NOW + timedelta(minutes=5))
    assert decision.skip_reason and decision.skip_reason.startswith("cooldown")
    assert earlier.id in decision.skip_reason
    [(source, key, since)] = recent.asked
    assert (source, key) == ("alertmanager", earlier.correlation_key)
    assert since == NOW + timedelta(minutes=5) - timedelta(hours=1)


def test_cooldown_zero_never_looks_back_and_sets_no_dedupe_key():
    recent = Recent(found=run(captured("firing")).trigger)
    decision = run(captured("firing"), AlertmanagerConfig(token=TOKEN, cooldown=0), recent)
    assert decision.skip_reason is None and recent.asked == [] and decision.trigger.dedupe_key is None


def test_exact_redelivery_shares_a_dedupe_key_only_within_one_cooldown_window():
    first = run(captured("firing")).trigger.dedupe_key
    assert run(captured("firing"), at=NOW + timedelta(seconds=20)).trigger.dedupe_key == first
    assert run(captured("firing"), at=NOW + timedelta(hours=1, seconds=1)).trigger.dedupe_key != first


def test_matchers_choose_which_alerts_start_a_backup():
    only_warning = AlertmanagerConfig(token=TOKEN, matchers=parse_matchers('severity=~"warning|info"'))
    decision = run(captured("firing"), only_warning)
    assert decision.skip_reason and "no firing alert matches" in decision.skip_reason
    assert 'severity=~"warning|info"' in decision.skip_reason
    chosen = AlertmanagerConfig(token=TOKEN, matchers=parse_matchers('vcf_backup="true",datastore=~"ds-0[01]"'))
    assert run(captured("firing"), chosen).trigger.context["matchedFiring"] == 2


def test_elements_come_from_a_label_or_annotation():
    payload = captured("firing")
    for alert in payload["alerts"]:
        alert["annotations"].pop("backup_elements")
    payload["alerts"][0]["labels"]["backup_elements"] = "SDDC_MANAGER"
    assert [e.resourceType for e in run(payload).trigger.spec.elements] == ["SDDC_MANAGER"]
    keyed = AlertmanagerConfig(token=TOKEN, elements_key="vcf_elements")
    payload["alerts"][1]["annotations"]["vcf_elements"] = "SDDC_MANAGER"
    assert [e.resourceType for e in run(payload, keyed).trigger.spec.elements] == ["SDDC_MANAGER"]


@pytest.mark.parametrize("value", ["NSX_MANAGER", "sddc_manager", "SDDC_MANAGER,VCENTER"])
def test_invalid_element_values_are_reported_not_guessed(value):
    payload = captured("firing")
    payload["alerts"][2]["annotations"]["backup_elements"] = value
    with pytest.raises(InvalidRequest, match="is not a backup element") as caught:
        run(payload)
    assert payload["alerts"][2]["fingerprint"] in caught.value.message


def test_callback_from_annotation_wins_over_the_configured_url():
    configured = AlertmanagerConfig(token=TOKEN, callback_url="https://hooks.example.com/default")
    assert run(captured("firing"), configured).trigger.callback.url == "https://hooks.example.com/default"
    payload = captured("firing")
    for alert in payload["alerts"]:
        alert["annotations"]["backup_callback_url"] = "https://hooks.example.com/from-rule"
    assert run(payload, configured).trigger.callback.url == "https://hooks.example.com/from-rule"


def test_callbacks_outside_the_allowlist_or_ambiguous_are_refused():
    payload = captured("firing")
    payload["alerts"][0]["annotations"]["backup_callback_url"] = "https://evil.example.net/steal"
    with pytest.raises(CallbackRefused, match="allowlist"):
        run(payload)
    payload["alerts"][1]["annotations"]["backup_callback_url"] = "https://hooks.example.com/other"
    with pytest.raises(InvalidRequest, match="2 different backup_callback_url"):
        run(payload)


def test_context_lists_are_capped_for_big_notifications():
    context = run(many_alerts(1000)).trigger.context
    assert context["matchedFiring"] == 1000
    assert len(context["fingerprints"]) == alertmanager.MAX_LISTED_FINGERPRINTS
    assert context["listsTruncated"] is True


# -------------------------------------------------------------------------------------------- web
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def node_app(make_settings, clock):
    settings = make_settings(alertmanager_token=TOKEN, callback_allowed_hosts=["hooks.example.com"],
                             callback_allow_http=False)
    services = Services(settings=settings, store=build_store(settings), clock=clock)
    return create_app(settings, services=services), services


@pytest.fixture
def client(node_app):
    return node_app[0].test_client()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(client, payload: Any, headers: dict[str, str] | None = None):
    data = payload if isinstance(payload, bytes) else raw(payload)
    return client.post("/hooks/alertmanager", data=data, headers=headers if headers is not None else AUTH,
                       content_type="application/json")


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["errorCode"] == code and body["referenceToken"] and body["message"]
    return body


def test_firing_is_stored_then_the_repeat_is_skipped_until_the_cooldown_passes(client, node_app, clock):
    first = post(client, captured("firing"))
    assert first.status_code == 202 and first.get_json()["state"] == "ACCEPTED"
    clock.advance(4)  # repeat_interval elapsed: the same group, the same firing alerts
    repeat = post(client, captured("firing"))
    assert repeat.status_code == 200
    assert repeat.get_json()["state"] == "SKIPPED" and repeat.get_json()["reason"].startswith("cooldown")
    assert first.get_json()["id"] in repeat.get_json()["reason"]
    clock.advance(3600)
    later = post(client, captured("firing"))
    assert later.status_code == 202 and later.get_json()["id"] != first.get_json()["id"]
    store = node_app[1].store
    assert store.get_trigger(repeat.get_json()["id"]).state is TriggerState.SKIPPED


def test_each_notification_writes_one_audit_line_with_the_hooks_fields(client, clock, caplog):
    caplog.set_level(logging.INFO, logger="webhook")
    first = post(client, captured("firing"))
    clock.advance(4)
    repeat = post(client, captured("firing"))  # within the cooldown: knowingly skipped
    audit = [r for r in caplog.records if r.name.startswith("webhook") and r.levelno == logging.INFO]
    assert [r.event for r in audit] == ["trigger.accepted", "trigger.skipped"]
    for record, response in zip(audit, (first, repeat), strict=True):
        assert record.trigger_id == response.get_json()["id"] and record.source == "alertmanager"
        assert record.hook == "alertmanager.received" and record.groupKey == captured("firing")["groupKey"]
        assert record.status == "firing" and record.alerts == len(captured("firing")["alerts"])
    assert audit[1].note.startswith("cooldown") and audit[1].duplicate is False


def test_resolved_is_recorded_as_skipped_with_a_2xx(client, node_app):
    response = post(client, captured("resolved"))
    assert response.status_code == 200
    assert response.get_json()["state"] == "SKIPPED"
    stored = node_app[1].store.get_trigger(response.get_json()["id"])
    assert stored.note.startswith("resolved") and stored.context["status"] == "resolved"


def test_bad_credentials_are_a_401_and_nothing_is_stored(client, node_app):
    body = assert_error(post(client, captured("firing"), {"Authorization": "Bearer nope"}), 401,
                        "VCFBACKUP_UNAUTHENTICATED")
    assert "nope" not in json.dumps(body)
    assert_error(post(client, captured("firing"), {}), 401, "VCFBACKUP_UNAUTHENTICATED")
    assert node_app[1].store.latest_trigger("alertmanager") is None


def test_credentials_are_checked_before_the_body_is_read(client):
    assert_error(post(client, b"{not json", {"Authorization": "Bearer nope"}), 401, "VCFBACKUP_UNAUTHENTICATED")


@pytest.mark.parametrize(("body", "fragment"), [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b'{"version": "4", "groupKey": "g", "status": "firing"}', "alerts"),
    (b'{"version": "4", "groupKey": "g", "status": "firing", "alerts": {"a": 1}}', "alerts"),
    (b'{"version": "4", "groupKey": 7, "status": "firing", "alerts": []}', "groupKey"),
    (b"[]", "JSON object"),
])
def test_malformed_payloads_get_a_400_error_body_never_a_500(client, body, fragment):
    error = assert_error(post(client, body), 400, "VCFBACKUP_INVALID_REQUEST")
    assert fragment in error["message"]


def test_non_json_content_type_is_a_415(client):
    response = client.post("/hooks/alertmanager", data=raw(captured("firing")), headers=AUTH,
                           content_type="text/plain")
    assert_error(response, 415, "VCFBACKUP_UNSUPPORTED_MEDIA_TYPE")


def test_ten_megabyte_body_is_a_413_naming_the_setting(client):
    error = assert_error(post(client, b"x" * 10_000_000), 413, "VCFBACKUP_PAYLOAD_TOO_LARGE")
    assert "VCFBACKUP_ALERTMANAGER_MAX_BODY_BYTES" in error["remediationMessage"]


def test_thousand_alert_notification_above_the_global_limit_is_accepted(client):
    payload = many_alerts(1000, extra="The host is not responding to vCenter heartbeats. " * 12)
    assert len(raw(payload)) > 1_048_576  # bigger than VCFBACKUP_MAX_BODY_BYTES' default
    response = post(client, payload)
    assert response.status_code == 202


def test_invalid_element_value_is_a_400_and_logged(client, node_app, caplog):
    payload = captured("firing")
    payload["commonAnnotations"]["backup_elements"] = "NSX_MANAGER"
    payload["alerts"][0]["annotations"]["backup_elements"] = "NSX_MANAGER"
    with caplog.at_level(logging.WARNING, logger="webhook"):
        error = assert_error(post(client, payload), 400, "VCFBACKUP_INVALID_REQUEST")
    assert "NSX_MANAGER" in error["message"]
    assert any(getattr(r, "event", "") == "alertmanager.refused" for r in caplog.records)
    assert node_app[1].store.latest_trigger("alertmanager") is None


def test_refused_callback_annotation_is_a_400_and_logged(client, caplog):
    payload = captured("firing")
    payload["alerts"][0]["annotations"]["backup_callback_url"] = "http://169.254.169.254/latest"
    with caplog.at_level(logging.WARNING, logger="webhook"):
        assert_error(post(client, payload), 400, "VCFBACKUP_CALLBACK_REFUSED")
    refused = [r for r in caplog.records if getattr(r, "event", "") == "alertmanager.refused"]
    assert refused and refused[0].groupKey == payload["groupKey"]


class BrokenStore(SqlStore):
    """The adapter's own classification of a database it cannot write to."""

    def add_trigger(self, trigger: Trigger, owed: Sequence[Delivery] = ()) -> tuple[Trigger, bool]:
        raise StoreUnavailable("The store is unavailable (OperationalError).")


def test_store_failure_is_a_503_so_alertmanager_retries(make_settings):
    settings = make_settings(alertmanager_token=TOKEN)
    store = BrokenStore.from_url(settings.database_url)
    client = create_app(settings, services=Services(settings=settings, store=store)).test_client()
    assert_error(post(client, captured("firing")), 503, "VCFBACKUP_STORE_UNAVAILABLE")
    assert_error(post(client, captured("resolved")), 503, "VCFBACKUP_STORE_UNAVAILABLE")


def test_receiver_without_credentials_refuses_everything(make_settings):
    settings = make_settings()
    client = create_app(settings, services=Services(settings=settings, store=build_store(settings))).test_client()
    error = assert_error(post(client, captured("firing")), 401, "VCFBACKUP_UNAUTHENTICATED")
    assert "VCFBACKUP_ALERTMANAGER_TOKEN" in error["remediationMessage"]


def test_configured_callback_url_outside_the_allowlist_stops_startup(make_settings):
    settings = make_settings(alertmanager_token=TOKEN, alertmanager_callback_url="https://elsewhere.example.org/x")
    with pytest.raises(ValueError, match="VCFBACKUP_ALERTMANAGER_CALLBACK_URL"):
        create_app(settings, services=Services(settings=settings, store=build_store(settings)))



@pytest.mark.parametrize(("token", "status", "code"), [
    (TOKEN, 413, "VCFBACKUP_PAYLOAD_TOO_LARGE"), ("wrong", 401, "VCFBACKUP_UNAUTHENTICATED")])
def test_ten_megabyte_body_over_real_http_gets_a_clean_4xx(make_settings, token, status, code):
    node = InProcessNode(make_settings(alertmanager_token=TOKEN), start_workers=False).start()
    try:
        response = requests.post(node.url + "/hooks/alertmanager", data=b"x" * 10_000_000, timeout=30,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    finally:
        node.stop()
    assert response.status_code == status
    assert response.json()["errorCode"] == code and response.json()["referenceToken"]


def test_racing_copies_of_one_notification_share_one_trigger(node_app):
    service = node_app[1].trigger_service()
    # Both copies checked the cooldown before either was stored (HA peers posting at the same instant).
    first, second = run(captured("firing")).trigger, run(captured("firing"), at=NOW + timedelta(seconds=2)).trigger
    assert service.accept(first).created is True
    receipt = service.accept(second)
    assert receipt.created is False and receipt.trigger.id == first.id
