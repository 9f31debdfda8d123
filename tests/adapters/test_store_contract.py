"""The ``Store`` port's contract: the same cases on SQLite and on a real PostgreSQL server.

Each case states what the core relies on (idempotent adds, one active backup, leases as the only
lock, conditional state changes), so a third adapter, or a change to one of these two, is held to
the same promises. PostgreSQL runs from Debian's package (tests/support/postgres.py); each case
gets a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from webhook.adapters.store import SqlStore
from webhook.core.models import default_spec
from webhook.core.ports import Store
from webhook.core.triggers import (
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryOutline,
    DeliveryState,
    RecordedAttempt,
    Trigger,
    TriggerState,
)

from tests.support.postgres import fresh_database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TARGET = CallbackTarget(kind="webhook", url="https://hooks.example.com/x", options={"access_token": "s3cret"})


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        made = SqlStore.from_url(f"sqlite:///{tmp_path / 'contract.db'}")
    else:
        made = SqlStore.from_url(fresh_database(request.getfixturevalue("postgres_url"), "contract"))
    yield made
    made.engine.dispose()


def trigger(n: int = 0, *, source: str = "generic", caller: str = "ci", key: str | None = None,
            correlation: str | None = None, callback: CallbackTarget | None = None) -> Trigger:
    return Trigger(source=source, caller=caller, spec=default_spec(), reason=f"t{n}", dedupe_key=key,
                   correlation_key=correlation, callback=callback, received_at=NOW + timedelta(seconds=n))


def delivery(of: Trigger, event: DeliveryEvent = DeliveryEvent.COMPLETED, *, at: datetime = NOW) -> Delivery:
    return Delivery(trigger_id=of.id, event=event, target=TARGET, body={"n": of.reason}, created_at=at,
                    next_attempt_at=at, give_up_at=at + timedelta(hours=1))


def ended(store: Store, backup: Backup, state: BackupState = BackupState.SUCCESSFUL) -> Backup:
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state, claimed.completed_at, claimed.sddc_task_id = state, NOW, f"task-{backup.id}"
    assert store.save_backup(claimed, "w1")
    return claimed


# --------------------------------------------------------------------------------------- triggers
def test_a_trigger_reads_back_as_stored_with_what_it_owes(store: Store):
    first = trigger(1, callback=TARGET)
    stored, created = store.add_trigger(first, [delivery(first)])
    assert created and stored.id == first.id
    again = store.get_trigger(first.id)
    assert again is not None and again.model_dump() == first.model_dump()
    assert [d.trigger_id for d in store.deliveries_of_trigger(first.id)] == [first.id]
    assert store.get_trigger("trg_missing") is None


def test_the_same_caller_and_dedupe_key_is_one_trigger_and_owes_once(store: Store):
    first, twin = trigger(1, key="k"), trigger(2, key="k")
    store.add_trigger(first, [delivery(first)])
    stored, created = store.add_trigger(twin, [delivery(twin)])
    assert not created and stored.id == first.id
    assert len(store.deliveries_of_trigger(first.id)) == 1 and store.deliveries_of_trigger(twin.id) == []
    other, created = store.add_trigger(trigger(3, caller="someone-else", key="k"))
    assert created and other.id != first.id


def test_a_skipped_trigger_is_finished_when_it_came(store: Store):
    skipped, created = store.skip_trigger(trigger(1))
    assert created and skipped.state is TriggerState.SKIPPED
    found = store.get_trigger(skipped.id)
    assert found is not None and found.state is TriggerState.SKIPPED and found.completed_at == found.received_at


def test_history_is_newest_first_filtered_and_paged(store: Store):
    made = [store.add_trigger(trigger(n, source="generic" if n % 2 else "slack"))[0] for n in range(6)]
    newest = store.list_triggers(source=None, state=None, since=None, limit=10)
    assert [t.id for t in newest] == [t.id for t in reversed(made)]
    assert [t.id for t in store.list_triggers(source="slack", state=None, since=None, limit=10)] == [
        made[4].id, made[2].id, made[0].id]
    page = store.list_triggers(source=None, state=None, since=None, limit=2, before_id=made[3].id)
    assert [t.id for t in page] == [made[2].id, made[1].id]
    since = store.list_triggers(source=None, state=None, since=NOW + timedelta(seconds=4), limit=10)
    assert [t.id for t in since] == [made[5].id, made[4].id]
    assert store.list_triggers(source=None, state=TriggerState.DONE, since=None, limit=10) == []
    latest = store.latest_trigger("generic")
    assert latest is not None and latest.id == made[5].id


def test_the_cooldown_lookup_finds_the_latest_correlated_trigger_that_was_not_skipped(store: Store):
    early = store.add_trigger(trigger(1, source="alertmanager", correlation="am:x"))[0]
    store.skip_trigger(trigger(5, source="alertmanager", correlation="am:x"))
    found = store.recent_correlated("alertmanager", "am:x", NOW)
    assert found is not None and found.id == early.id
    assert store.recent_correlated("alertmanager", "am:x", NOW + timedelta(seconds=2)) is None
    assert store.recent_correlated("alertmanager", "am:y", NOW) is None


# ---------------------------------------------------------------------------------------- backups
def test_one_backup_is_active_at_a_time_and_its_triggers_attach_once(store: Store):
    waiting = [store.add_trigger(trigger(n, callback=TARGET))[0] for n in range(3)]
    assert [t.id for t in store.accepted_triggers(10)] == [t.id for t in waiting]
    backup, opened = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    second, opened_again = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    assert opened and not opened_again and second.id == backup.id
    active = store.active_backup()
    assert active is not None and active.id == backup.id
    started = [delivery(t, DeliveryEvent.STARTED) for t in waiting]
    assert sorted(store.attach_triggers([t.id for t in waiting], backup.id, started)) == sorted(
        t.id for t in waiting)
    assert store.attach_triggers([t.id for t in waiting], backup.id, started) == []  # only ACCEPTED attach
    assert {t.state for t in store.triggers_of_backup(backup.id)} == {TriggerState.ATTACHED}
    assert all(len(store.deliveries_of_trigger(t.id)) == 1 for t in waiting)
    assert store.accepted_triggers(10) == []


def test_completing_finishes_only_unfinished_triggers_and_frees_the_slot(store: Store):
    attached = store.add_trigger(trigger(1))[0]
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    store.attach_triggers([attached.id], backup.id, [])
    done = ended(store, backup)
    assert store.active_backup() is None
    assert [t.id for t in store.stranded_triggers(10)] == [attached.id]
    assert store.complete_triggers([attached.id], backup.id, NOW, "ok", [delivery(attached)]) == [attached.id]
    assert store.complete_triggers([attached.id], backup.id, NOW, "again", [delivery(attached)]) == []
    finished = store.get_trigger(attached.id)
    assert finished is not None and finished.state is TriggerState.DONE and finished.note == "ok"
    assert len(store.deliveries_of_trigger(attached.id)) == 1 and store.stranded_triggers(10) == []
    assert store.find_backup_by_task(f"task-{backup.id}") == done
    latest = store.latest_successful_backup(default_spec().key(), NOW - timedelta(days=1))
    assert latest is not None and latest.id == backup.id
    assert store.latest_successful_backup(default_spec().key(), NOW + timedelta(days=1)) is None
    assert set(store.backups_by_id([backup.id, "bkp_missing"])) == {backup.id}


def test_a_backup_lease_is_the_lock(store: Store):
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    assert store.claim_backups("w2", NOW, 60, 10) == []  # leased to w1
    claimed.sddc_status = "In Progress"
    assert not store.save_backup(claimed, "w2") and store.save_backup(claimed, "w1")
    store.release_backup(backup.id, "w1")
    [again] = store.claim_backups("w2", NOW, 60, 10)
    assert again.sddc_status == "In Progress"
    assert [b.id for b in store.claim_backups("w3", NOW + timedelta(seconds=61), 60, 10)] == [backup.id]
    assert store.get_backup(backup.id) is not None and store.get_backup("bkp_missing") is None


# ------------------------------------------------------------------------------------- deliveries
def test_deliveries_are_claimed_when_due_and_attempts_are_appended(store: Store):
    owner = store.add_trigger(trigger(1))[0]
    due, later = delivery(owner), delivery(owner, at=NOW + timedelta(minutes=5))
    store.add_deliveries([due, later])
    [claimed] = store.claim_deliveries("w1", NOW, 60, 10)
    assert claimed.id == due.id and store.claim_deliveries("w2", NOW, 60, 10) == []
    failed = RecordedAttempt(delivery_id=due.id, attempt=DeliveryAttempt(at=NOW, status_code=503),
                             state=DeliveryState.PENDING, next_attempt_at=NOW + timedelta(seconds=1),
                             last_error="HTTP 503")
    store.record_attempts("w1", [failed])
    [retried] = store.claim_deliveries("w2", NOW + timedelta(seconds=1), 60, 10)
    ok = RecordedAttempt(delivery_id=due.id, attempt=DeliveryAttempt(at=NOW, status_code=200),
                         state=DeliveryState.DELIVERED)
    store.record_attempts("w1", [ok])  # w1 lost the lease: nothing changes
    store.record_attempts("w2", [ok])
    [first, second] = store.deliveries_of_trigger(owner.id)
    assert first.state is DeliveryState.DELIVERED and [a.status_code for a in first.attempts] == [503, 200]
    assert retried.id == first.id and second.state is DeliveryState.PENDING
    assert {d.id for d in store.deliveries_of_triggers([owner.id, "trg_none"])[owner.id]} == {due.id, later.id}
    outlines = store.delivery_outlines([owner.id, "trg_none"])
    assert outlines == {owner.id: [DeliveryOutline.of(first), DeliveryOutline.of(second)], "trg_none": []}
    assert outlines[owner.id][0].attempts == 2


def test_a_cancelled_delivery_is_never_claimed_again(store: Store):
    owner = store.add_trigger(trigger(1))[0]
    owed = delivery(owner)
    store.add_deliveries([owed])
    store.claim_deliveries("w1", NOW, 60, 10)
    store.cancel_delivery(owed.id, "w1", "superseded")
    [cancelled] = store.deliveries_of_trigger(owner.id)
    assert cancelled.state is DeliveryState.CANCELLED and cancelled.last_error == "superseded"
    assert store.claim_deliveries("w1", NOW + timedelta(hours=1), 60, 10) == []


def test_a_deadline_wins_only_over_an_unfinished_trigger(store: Store):
    waiting = store.add_trigger(trigger(1, callback=TARGET))[0]
    expired = store.expire_trigger(waiting.id, NOW, "too late")
    assert expired is not None and expired.state is TriggerState.DONE and expired.note == "too late"
    finished = store.add_trigger(trigger(2, callback=TARGET))[0]
    store.complete_triggers([finished.id], "bkp_x", NOW, None, [delivery(finished)])
    assert store.expire_trigger(finished.id, NOW, "too late") is None
    assert store.expire_trigger(store.skip_trigger(trigger(3))[0].id, NOW, "x") is None


def test_callback_secrets_are_forgotten_everywhere(store: Store):
    owner = store.add_trigger(trigger(1, callback=TARGET), [])[0]
    store.add_deliveries([delivery(owner)])
    store.forget_callback_options(owner.id, ["access_token"])
    stored = store.get_trigger(owner.id)
    assert stored is not None and stored.callback is not None and "access_token" not in stored.callback.options
    assert all("access_token" not in d.target.options for d in store.deliveries_of_trigger(owner.id))


def test_a_final_attempt_erases_its_callback_secrets_in_the_same_commit(store: Store):
    owner = store.add_trigger(trigger(1, callback=TARGET), [])[0]
    store.add_deliveries([delivery(owner)])
    claimed = store.claim_deliveries("w1", NOW, 600, 10)[0]
    final = RecordedAttempt(delivery_id=claimed.id, attempt=DeliveryAttempt(at=NOW, status_code=200),
                            state=DeliveryState.DELIVERED, forget_options=["access_token"])
    store.record_attempts("w1", [final])
    stored = store.get_trigger(owner.id)
    assert stored is not None and stored.callback is not None and "access_token" not in stored.callback.options
    assert [d.state for d in store.deliveries_of_trigger(owner.id)] == [DeliveryState.DELIVERED]
    assert all("access_token" not in d.target.options for d in store.deliveries_of_trigger(owner.id))


def test_a_record_of_several_finals_erases_their_secrets_but_not_one_whose_lease_another_worker_took(store: Store):
    owners = [store.add_trigger(trigger(n, callback=TARGET), [])[0] for n in range(3)]
    store.add_deliveries([d for owner in owners for d in (delivery(owner, DeliveryEvent.STARTED), delivery(owner))])
    claimed = [d for d in store.claim_deliveries("w1", NOW, 60, 10) if d.event is DeliveryEvent.COMPLETED]
    stolen = next(d for d in claimed if d.trigger_id == owners[2].id)
    kept = [d.id for d in claimed if d.id != stolen.id]
    assert sorted(store.renew_delivery_leases(kept, "w1", NOW, 600)) == sorted(kept)
    later = NOW + timedelta(minutes=5)  # w1's lease on the third ran out and w2 took it
    assert stolen.id in [d.id for d in store.claim_deliveries("w2", later, 60, 10)]
    store.record_attempts("w1", [RecordedAttempt(delivery_id=d.id, attempt=DeliveryAttempt(at=NOW, status_code=200),
                                                 state=DeliveryState.DELIVERED, forget_options=["access_token"])
                                 for d in claimed])
    for owner, forgotten in zip(owners, (True, True, False), strict=True):
        stored = store.get_trigger(owner.id)
        assert stored is not None and stored.callback is not None
        assert ("access_token" not in stored.callback.options) is forgotten
        assert all(("access_token" not in d.target.options) is forgotten
                   for d in store.deliveries_of_trigger(owner.id))


# ---------------------------------------------------------------------------------------- workers
def test_heartbeats_leases_and_wake_up_times(store: Store):
    store.ping()
    assert store.last_heartbeat() is None and store.next_due() is None
    store.heartbeat("w1", NOW)
    store.heartbeat("w1", NOW + timedelta(seconds=5))
    assert store.last_heartbeat() == NOW + timedelta(seconds=5)
    owner = store.add_trigger(trigger(1))[0]
    assert store.next_due() is not None and store.next_due() <= NOW  # an ACCEPTED trigger: now
    store.complete_triggers([owner.id], "bkp_x", NOW, None, [])
    store.add_deliveries([delivery(owner, at=NOW + timedelta(minutes=3))])
    assert store.next_due() is None  # callbacks run on their own loop, woken by next_delivery_due
    assert store.next_delivery_due(NOW) == NOW + timedelta(minutes=3)
    store.claim_deliveries("w1", NOW + timedelta(minutes=3), 600, 10)
    assert store.next_delivery_due(NOW) == NOW + timedelta(minutes=13)  # leased: due when the lease runs out
    store.release_leases("w1")
    assert len(store.claim_deliveries("w2", NOW + timedelta(minutes=3), 600, 10)) == 1
    assert store.last_heartbeat() is None  # w1 said goodbye


def test_a_backup_in_flight_is_due_when_its_lease_runs_out_not_before(store: Store):
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    assert store.next_due(NOW) == datetime.fromtimestamp(0, UTC)  # never submitted: due now
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    assert store.next_due() == datetime.fromtimestamp(0, UTC)  # without ``now``: leases are not looked at
    assert store.next_due(NOW) == NOW + timedelta(seconds=60)  # leased (a job in flight): when the lease ends
    claimed.next_poll_at = NOW + timedelta(seconds=5)
    assert store.save_backup(claimed, "w1")
    store.release_backup(claimed.id, "w1")
    assert store.next_due(NOW) == NOW + timedelta(seconds=5)  # let go: its next poll


def test_a_postponed_delivery_is_let_go_unattempted_until_its_new_time(store: Store):
    owner = store.add_trigger(trigger(1))[0]
    store.complete_triggers([owner.id], "bkp_x", NOW, None, [delivery(owner)])
    claimed = store.claim_deliveries("w1", NOW, 600, 10)
    assert len(claimed) == 1 and store.claim_deliveries("w2", NOW, 600, 10) == []
    store.postpone_deliveries([claimed[0].id], "w2", NOW + timedelta(minutes=1))  # not w2's: nothing changes
    assert store.claim_deliveries("w2", NOW + timedelta(minutes=2), 600, 10) == []
    store.postpone_deliveries([claimed[0].id], "w1", NOW + timedelta(minutes=1))
    assert store.next_delivery_due(NOW) == NOW + timedelta(minutes=1)
    assert store.claim_deliveries("w2", NOW, 600, 10) == []
    assert [d.id for d in store.claim_deliveries("w2", NOW + timedelta(minutes=1), 600, 10)] == [claimed[0].id]
    assert store.deliveries_of_trigger(owner.id)[0].attempts == []


def test_riders_needing_nothing_of_their_own_are_attached_in_bulk(store: Store):
    from webhook.core.models import BackupResource, BackupSpec

    assert store.attach_riders({"slack"}, 10) == ([], False)  # nothing waits, nothing active
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    slack = CallbackTarget(kind="slack", url="https://hooks.slack.com/x")
    plain = store.add_trigger(trigger(1))[0]
    webhook = store.add_trigger(trigger(2, callback=TARGET))[0]
    owes_started = store.add_trigger(trigger(3, callback=slack))[0]
    reuse = store.add_trigger(trigger(4).model_copy(update={"reuse_if_newer_than": 60.0}))[0]
    other_spec = store.add_trigger(trigger(5).model_copy(update={"spec": BackupSpec(
        elements=[BackupResource(resourceType="VCENTER")])}))[0]
    other_instance = store.add_trigger(trigger(6).model_copy(update={"instance": "vcf-02"}))[0]
    fanout = store.add_trigger(trigger(7).model_copy(update={"instance": "*", "targets": ["default"]}))[0]
    # Submitting: no "started" message is owed yet, so the Slack trigger rides too.
    [(backup_id, running, ids)], more = store.attach_riders({"slack"}, 2)
    assert backup_id == backup.id and not running and ids == [plain.id, webhook.id]  # oldest first, the limit
    assert more
    [(_, _, ids)], more = store.attach_riders({"slack"}, 10)
    assert ids == [owes_started.id] and more  # the others are left for the per-trigger path
    late_slack = store.add_trigger(trigger(8, callback=slack))[0]
    late_plain = store.add_trigger(trigger(9))[0]
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state = BackupState.IN_PROGRESS
    assert store.save_backup(claimed, "w1")
    [(_, running, ids)], _ = store.attach_riders({"slack"}, 10)
    assert running and ids == [late_plain.id]  # the Slack one is owed its "started" message: left for attach
    assert store.attach_riders({"slack"}, 10) == ([], True)
    for waiting in (reuse, other_spec, other_instance, fanout, late_slack):
        stored = store.get_trigger(waiting.id)
        assert stored is not None and stored.state is TriggerState.ACCEPTED
    for rider in (plain, webhook, owes_started, late_plain):
        stored = store.get_trigger(rider.id)
        assert stored is not None and stored.state is TriggerState.ATTACHED and stored.backup_id == backup.id


def test_riding_at_intake_stores_new_riders_owing_nothing_attached_and_leaves_the_rest(store: SqlStore):
    from webhook.core.delivery_policy import ANNOUNCED_BACKUP
    from webhook.core.models import BackupResource, BackupSpec

    store.ride_at_intake(frozenset({"slack"}))
    slack = CallbackTarget(kind="slack", url="https://hooks.slack.com/x")
    before = store.add_trigger(trigger(1))[0]
    assert before.state is TriggerState.ACCEPTED  # nothing active yet: the worker opens a backup for it
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    plain, created = store.add_trigger(trigger(2, key="k2"))
    assert created and (plain.state, plain.backup_id) == (TriggerState.ATTACHED, backup.id)
    twin, created = store.add_trigger(trigger(3, key="k2"))
    assert not created and twin.id == plain.id and twin.state is TriggerState.ATTACHED
    submitting_slack = store.add_trigger(trigger(4, callback=slack))[0]  # wants "started": the worker attaches it
    other_spec = store.add_trigger(trigger(5).model_copy(update={"spec": BackupSpec(
        elements=[BackupResource(resourceType="VCENTER")])}))[0]
    other_instance = store.add_trigger(trigger(6).model_copy(update={"instance": "vcf-02"}))[0]
    reuse = store.add_trigger(trigger(7).model_copy(update={"reuse_if_newer_than": 60.0}))[0]
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state = BackupState.IN_PROGRESS
    assert store.save_backup(claimed, "w1")
    owes_started = store.add_trigger(trigger(8, callback=slack))[0]
    told = store.add_trigger(trigger(9, callback=slack.model_copy(
        update={"options": {ANNOUNCED_BACKUP: backup.id}})))[0]
    running_plain = store.add_trigger(trigger(10, callback=TARGET))[0]

    for rider in (plain, told, running_plain):
        stored = store.get_trigger(rider.id)
        assert stored is not None and (stored.state, stored.backup_id) == (TriggerState.ATTACHED, backup.id)
    waiting = (before, submitting_slack, other_spec, other_instance, reuse, owes_started)
    for left in waiting:
        stored = store.get_trigger(left.id)
        assert stored is not None and (stored.state, stored.backup_id) == (TriggerState.ACCEPTED, None)
    assert {t.id for t in store.accepted_triggers(20)} == {t.id for t in waiting}
    assert {t.id for t in store.triggers_of_backup(backup.id, TriggerState.ATTACHED)} == {
        plain.id, told.id, running_plain.id}  # what the backup's end completes
    claimed.state, claimed.completed_at = BackupState.SUCCESSFUL, NOW
    assert store.save_backup(claimed, "w1")
    after = store.add_trigger(trigger(11))[0]
    assert after.state is TriggerState.ACCEPTED  # the backup ended: the next one is opened for it


def test_the_running_backup_is_the_instances_one_in_progress_at_sddc_manager(store: Store):
    assert store.running_backup("default") is None
    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    assert store.running_backup("default") is None  # opened, not yet submitted: no task to name
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state, claimed.sddc_task_id, claimed.submitted_at = BackupState.IN_PROGRESS, "task-1", NOW
    assert store.save_backup(claimed, "w1")
    running = store.running_backup("default")
    assert running is not None
    assert (running.id, running.sddc_task_id, running.submitted_at) == (backup.id, "task-1", NOW)
    assert running.spec_key == default_spec().key() and store.running_backup("vcf-02") is None
    claimed.state, claimed.completed_at = BackupState.SUCCESSFUL, NOW
    assert store.save_backup(claimed, "w1")
    assert store.running_backup("default") is None


def test_a_rider_already_told_of_the_running_backup_is_attached_in_bulk_to_that_backup_only(store: Store):
    from webhook.core.delivery_policy import ANNOUNCED_BACKUP

    backup, _ = store.open_backup(Backup(spec=default_spec(), created_at=NOW))
    [claimed] = store.claim_backups("w1", NOW, 60, 10)
    claimed.state = BackupState.IN_PROGRESS
    assert store.save_backup(claimed, "w1")
    told = CallbackTarget(kind="slack", url="https://hooks.slack.com/a", options={ANNOUNCED_BACKUP: backup.id})
    told_of_another = CallbackTarget(kind="slack", url="https://hooks.slack.com/b",
                                     options={ANNOUNCED_BACKUP: "bkp_ended_meanwhile"})
    announced = store.add_trigger(trigger(1, callback=told))[0]
    stale = store.add_trigger(trigger(2, callback=told_of_another))[0]
    [(backup_id, running, ids)], more = store.attach_riders({"slack"}, 10)
    assert (backup_id, running, ids, more) == (backup.id, True, [announced.id], True)
    stored = store.get_trigger(stale.id)
    assert stored is not None and stored.state is TriggerState.ACCEPTED  # owed its "started": the per-trigger path


def test_only_live_leases_of_their_owner_on_pending_deliveries_are_renewed(store: Store):
    owner = store.add_trigger(trigger(1))[0]
    owed = [delivery(owner) for _ in range(4)]
    store.complete_triggers([owner.id], "bkp_x", NOW, None, owed)
    claimed = store.claim_deliveries("w1", NOW, 30, 10)
    assert len(claimed) == 4
    sent = RecordedAttempt(delivery_id=owed[0].id, attempt=DeliveryAttempt(at=NOW, status_code=200),
                           state=DeliveryState.DELIVERED)
    store.record_attempts("w1", [sent])  # finished: nothing left to renew
    renewed = store.renew_delivery_leases([d.id for d in owed], "w2", NOW + timedelta(seconds=10), 30)
    assert renewed == []  # not w2's
    renewed = store.renew_delivery_leases([d.id for d in owed[:3]], "w1", NOW + timedelta(seconds=10), 30)
    assert sorted(renewed) == sorted(d.id for d in owed[1:3])
    # Renewed until NOW + 40: nobody else may claim them at NOW + 35; the unrenewed one is free since NOW + 30.
    assert [d.id for d in store.claim_deliveries("w2", NOW + timedelta(seconds=35), 30, 10)] == [owed[3].id]
    assert store.renew_delivery_leases([owed[3].id], "w1", NOW + timedelta(seconds=36), 30) == []  # w2's now
    assert store.renew_delivery_leases([owed[1].id], "w1", NOW + timedelta(seconds=41), 30) == []  # ran out
    assert store.renew_delivery_leases([], "w1", NOW, 30) == []


def test_worker_faults_are_reported_until_cleared_and_a_write_probe_keeps_nothing(store: Store):
    store.check_writable()
    assert store.worker_faults() == [] and store.next_due() is None
    store.report_fault("w1", NOW, "3 cycles failed: OperationalError")
    store.report_fault("w2", NOW + timedelta(seconds=1), "3 cycles failed: TimeoutError")
    assert store.worker_faults() == ["3 cycles failed: OperationalError", "3 cycles failed: TimeoutError"]
    store.report_fault("w1", NOW + timedelta(seconds=2), None)
    assert store.worker_faults() == ["3 cycles failed: TimeoutError"]


def test_prune_deletes_finished_history_but_nothing_still_owed(store: Store):
    old_done = store.add_trigger(trigger(1))[0]
    store.complete_triggers([old_done.id], "bkp_x", NOW, None, [])
    owing = store.add_trigger(trigger(2))[0]
    store.complete_triggers([owing.id], "bkp_x", NOW, None, [delivery(owing)])
    running = store.add_trigger(trigger(3))[0]
    gone = store.prune(NOW + timedelta(days=1))
    assert gone["triggers"] == 1
    assert store.get_trigger(old_done.id) is None
    assert store.get_trigger(owing.id) is not None and store.get_trigger(running.id) is not None
