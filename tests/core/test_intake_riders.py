"""Which new triggers the request path may store already ATTACHED to the backup that is running."""

from __future__ import annotations

from datetime import UTC, datetime

from webhook.core.delivery_policy import ANNOUNCED_BACKUP
from webhook.core.intake_riders import ActiveBackup, may_ride, ride_at_intake, unmark
from webhook.core.models import BackupResource, BackupSpec, default_spec
from webhook.core.triggers import CallbackTarget, Trigger, TriggerState

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
SLACK = frozenset({"slack"})


def trigger(**fields: object) -> Trigger:
    values: dict[str, object] = {"source": "generic", "caller": "ci", "spec": default_spec(), "received_at": NOW}
    return Trigger(**{**values, **fields})  # type: ignore[arg-type]


def running(backup_id: str = "bkp_1", instance: str = "default") -> ActiveBackup:
    return ActiveBackup(backup_id, instance, default_spec().key())


def test_a_trigger_matching_the_running_backup_with_nothing_owed_is_attached_to_it():
    plain, webhook = trigger(), trigger(callback=CallbackTarget(url="https://hooks.example.com/x"))

    assert ride_at_intake([plain, webhook], [running()], SLACK) == [plain, webhook]

    assert (plain.state, plain.backup_id) == (TriggerState.ATTACHED, "bkp_1")
    assert (webhook.state, webhook.backup_id) == (TriggerState.ATTACHED, "bkp_1")


def test_no_active_backup_or_another_spec_or_instance_leaves_a_trigger_for_the_worker():
    other_spec = trigger(spec=BackupSpec(elements=[BackupResource(resourceType="VCENTER")]))
    other_instance = trigger(instance="vcf-02")
    nothing_running = trigger()

    assert ride_at_intake([other_spec, other_instance], [running()], SLACK) == []
    assert ride_at_intake([nothing_running], [], SLACK) == []
    for waiting in (other_spec, other_instance, nothing_running):
        assert (waiting.state, waiting.backup_id) == (TriggerState.ACCEPTED, None)


def test_fanouts_reuse_windows_and_skipped_triggers_never_ride_at_intake():
    fanout = trigger(instance="*", targets=["default"])
    reuse = trigger(reuse_if_newer_than=600.0)
    skipped = trigger(state=TriggerState.SKIPPED)

    assert not any(may_ride(t) for t in (fanout, reuse, skipped))
    assert ride_at_intake([fanout, reuse, skipped], [running(), running("bkp_2", "*")], SLACK) == []
    assert skipped.state is TriggerState.SKIPPED and fanout.state is TriggerState.ACCEPTED


def test_a_trigger_whose_callback_wants_a_started_message_rides_at_intake_only_if_told_of_that_backup():
    def slack(options: dict[str, object] | None = None) -> Trigger:
        return trigger(callback=CallbackTarget(kind="slack", url="https://hooks.slack.com/x", options=options or {}))

    owes, told, told_of_another = slack(), slack({ANNOUNCED_BACKUP: "bkp_1"}), slack({ANNOUNCED_BACKUP: "bkp_0"})

    # Running or still being submitted alike: the worker attaches the others and sends their message.
    assert ride_at_intake([owes, told, told_of_another], [running()], SLACK) == [told]
    assert owes.state is TriggerState.ACCEPTED and told_of_another.state is TriggerState.ACCEPTED


def test_unmark_puts_triggers_back_as_they_were_before_a_failed_commit():
    rider = trigger()
    ride_at_intake([rider], [running()], SLACK)

    unmark([rider])

    assert (rider.state, rider.backup_id) == (TriggerState.ACCEPTED, None)
