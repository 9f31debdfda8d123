from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from webhook.core.delivery_policy import ANNOUNCED_BACKUP, DeliveryPolicy, owed_deliveries
from webhook.core.models import Error, Resource, default_spec
from webhook.core.results import result_document, result_documents
from webhook.core.triggers import Backup, BackupState, CallbackTarget, DeliveryEvent, Trigger, TriggerState

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _triggers() -> list[Trigger]:
    hook = CallbackTarget(url="https://hooks.example/cb")
    return [
        Trigger(source="generic", caller="ci", spec=default_spec(), received_at=START, callback=hook),
        Trigger(source="slack", caller="slack:U1", spec=default_spec(), reason="before the upgrade",
                received_at=START + timedelta(seconds=1), state=TriggerState.ATTACHED, note="joined a running one",
                callback=CallbackTarget(kind="slack", url="https://hooks.slack.com/x")),
        Trigger(source="alertmanager", caller="alertmanager", spec=default_spec(), reason="é \u2028 \"quoted\"",
                received_at=START, state=TriggerState.DONE, completed_at=START),
    ]


def _backups() -> list[Backup]:
    return [
        Backup(spec=default_spec(), created_at=START),
        Backup(spec=default_spec(), created_at=START, state=BackupState.IN_PROGRESS, sddc_task_id="task-1",
               name="SDDC Manager backup", submitted_at=START + timedelta(seconds=2), adopted=True),
        Backup(spec=default_spec(), created_at=START, state=BackupState.FAILED, sddc_task_id="task-2",
               submitted_at=START, completed_at=START + timedelta(minutes=3),
               resources=[Resource(resourceId="r1", type="SDDC_MANAGER", fqdn="sddc.example")],
               errors=[Error(errorCode="E1", message="disk full", remediationMessage="free space")]),
    ]


@pytest.mark.parametrize("note", [None, "Reused backup bkp_1"])
@pytest.mark.parametrize("backup", _backups(), ids=["submitting", "running", "failed"])
def test_documents_for_many_triggers_equal_each_built_by_the_model(backup, note):
    triggers = _triggers()
    documents = result_documents(triggers, backup, note)
    expected = [result_document(t, backup, note) for t in triggers]
    assert documents == expected
    # Same keys in the same order: the callback body's bytes (and so its signature input) do not change.
    assert [json.dumps(d) for d in documents] == [json.dumps(e) for e in expected]


def test_documents_are_independent_of_each_other():
    documents = result_documents(_triggers(), _backups()[2])
    documents[0]["status"] = "CHANGED"
    documents[0]["trigger"]["id"] = "changed"
    assert documents[1]["status"] == "FAILED" and documents[1]["trigger"]["id"] != "changed"


def test_started_is_owed_only_to_kinds_that_want_it_and_not_to_a_trigger_told_in_its_ack():
    backup = _backups()[1]
    told = Trigger(source="slack", caller="slack:U2", spec=default_spec(), received_at=START,
                   callback=CallbackTarget(kind="slack", url="https://hooks.slack.com/y",
                                           options={ANNOUNCED_BACKUP: backup.id}))
    triggers = [*_triggers(), told]
    policy = DeliveryPolicy(started_event_kinds=frozenset({"slack"}))
    owed = owed_deliveries(triggers, backup, DeliveryEvent.STARTED, policy, START)
    assert [d.trigger_id for d in owed] == [triggers[1].id]
    assert owed[0].body == result_document(triggers[1], backup)
    assert owed[0].give_up_at == START + timedelta(seconds=policy.budget_seconds)
    completed = owed_deliveries(triggers, backup, DeliveryEvent.COMPLETED, policy, START, "done")
    assert [d.trigger_id for d in completed] == [triggers[0].id, triggers[1].id, told.id]
    assert len({d.id for d in completed}) == 3 and all(not d.attempts for d in completed)
