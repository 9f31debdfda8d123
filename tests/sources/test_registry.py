"""A new source is one translate function, one blueprint and one registry entry: no edit of app.py, settings or core.

This module is the toy source's web module too (``bp`` and ``OPENAPI``), named in its registry
entry by dotted path exactly as the built-in sources name theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from webhook import sources
from webhook.app import Services, build_notifier, build_store, create_app
from webhook.core.callbacks import CallbackPolicy
from webhook.core.intake import Intake
from webhook.core.models import default_spec
from webhook.core.triggers import AttemptResult, CallbackTarget, Delivery, Trigger
from webhook.sources import Source
from webhook.web import openapi
from webhook.web.context import web

from tests.conftest import API_TOKEN


# ------------------------------------------------------------------ the toy source (sources/<name>.py)
class ToyConfig:
    def __init__(self, section: Mapping[str, Any]) -> None:
        self.section = dict(section)


def configure(section: Mapping[str, Any], callbacks: CallbackPolicy) -> ToyConfig:
    return ToyConfig(section)


def toy_intake(body: dict[str, Any], received_at: Any) -> Intake:
    trigger = Trigger(source="toy", caller="toy:bot", spec=default_spec(), reason=body.get("reason"),
                      received_at=received_at, callback=CallbackTarget(kind="toy", url="toy://nowhere"))
    if body.get("quiet"):
        return Intake.skip(trigger, "the toy was told to be quiet", label="quiet")
    return Intake.accept(trigger)


# ------------------------------------------------------------------ its web side (web/<name>.py)
bp = Blueprint("toy", __name__)


@bp.post("/hooks/toy")
def receive() -> ResponseReturnValue:
    service = web().service
    receipt = service.take(toy_intake(request.get_json(force=True), service.clock.now()))
    config = web().source_config("toy", ToyConfig)
    return jsonify({"id": receipt.trigger.id, "state": receipt.trigger.state.value,
                    "configured": sorted(config.section)}), 202


OPENAPI = openapi.Described({"/hooks/toy": {"post": openapi.operation("A toy way in", {"202": {
    "description": "stored"}}, tag="sources")}})


# ------------------------------------------------------------------ its notifier (adapters/<name>_notifier.py)
class ToyNotifier:
    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def send(self, delivery: Delivery) -> AttemptResult:
        return AttemptResult(ok=True, status_code=200)


def toy_notifier(config: ToyConfig, *, store: object, timeout: float) -> ToyNotifier:
    return ToyNotifier(config)


# ------------------------------------------------------------------ the registry entry, and the proof
@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Source:
    # It borrows the slack_* settings section only to show that a section reaches its config.
    entry = Source("toy", web=__name__, settings_section="slack", configure=configure, notifier_kind="toy",
                   notifier=f"{__name__}:toy_notifier", wants_started=True)
    monkeypatch.setitem(sources.REGISTRY, "toy", entry)
    return entry


def test_a_toy_source_added_through_the_registry_alone_is_served_stored_described_and_notified(toy, make_settings):
    settings = make_settings()
    app = create_app(settings, services=Services(settings=settings, store=build_store(settings)))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    accepted = client.post("/hooks/toy", json={"reason": "toy asks"})
    assert accepted.status_code == 202
    assert "signing_secret" in accepted.get_json()["configured"]  # its settings section reached its config
    skipped = client.post("/hooks/toy", json={"quiet": True}).get_json()
    assert skipped["state"] == "SKIPPED"

    page = client.get("/v1/triggers?source=toy", headers=auth).get_json()["items"]
    assert [item["state"] for item in page] == ["SKIPPED", "ACCEPTED"]
    assert page[1]["trigger"]["reason"] == "toy asks"
    assert "/hooks/toy" in client.get("/openapi.json").get_json()["paths"]

    assert "toy" in sources.started_kinds()
    router = build_notifier(settings)
    assert isinstance(router.notifiers["toy"], ToyNotifier)  # type: ignore[attr-defined]


def test_the_built_in_sources_are_registry_entries():
    names = {source.name for source in sources.registered()}
    assert {"generic", "alertmanager", "slack", "terraform"} <= names
    assert sources.started_kinds() >= {"slack", "tfc_run_task"}
