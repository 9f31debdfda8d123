"""A new trigger's answer is rendered without the models, and must be the models' text exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from webhook.core.models import BackupResource, BackupSpec
from webhook.core.triggers import CallbackTarget, Trigger, TriggerState
from webhook.core.views import TriggerView
from webhook.web.triggers import fresh_status_json

URL = "http://127.0.0.1:8080/v1/triggers/trg_x"
SPEC = BackupSpec(elements=[BackupResource(resourceType="SDDC_MANAGER")])
NOW = datetime(2026, 11, 30, 8, 0, 1, 123456, tzinfo=UTC)


@pytest.mark.parametrize("trigger", [
    Trigger(source="generic", caller="ci", spec=SPEC, received_at=NOW),
    Trigger(source="terraform", caller="tf", spec=SPEC, received_at=NOW, reason="nightly „apply“ ✓",
            callback=CallbackTarget(kind="webhook", url="https://cb.example.com/x?a=1&b=ä"),
            context={"workspace": "prod-ws", "runId": "run-1"}, dedupe_key="k1"),
    Trigger(source="generic", caller="ci", spec=SPEC, received_at=NOW, state=TriggerState.SKIPPED,
            note="cooldown", completed_at=NOW),
    Trigger(source="generic", caller="ci", received_at=NOW, instance="*", targets=["east", "west"],
            backup_id="bkp_1", spec=BackupSpec(elements=[BackupResource(resourceType="SDDC_MANAGER"),
                                                         BackupResource(resourceType="NSXT", name="nsx-1")])),
])
@pytest.mark.parametrize("duplicate", [None, False, True])
def test_the_fast_text_is_the_models_text(trigger: Trigger, duplicate: bool | None) -> None:
    view = TriggerView(trigger, None)
    assert fresh_status_json(view, URL, duplicate) == view.status(URL, duplicate).model_dump_json(
        exclude_none=True).encode()


def test_a_trigger_with_a_backup_or_a_non_string_context_takes_the_models_path() -> None:
    with_number = Trigger(source="generic", caller="ci", spec=SPEC, received_at=NOW, context={"n": 1.5})
    assert fresh_status_json(TriggerView(with_number, None), URL, None) is None
    plain = Trigger(source="generic", caller="ci", spec=SPEC, received_at=NOW)
    assert fresh_status_json(TriggerView(plain, {"status": "SUCCESSFUL"}), URL, None) is None
