"""Polls keep their cadence: a poll that ran late does not push every later poll back by as much."""

from __future__ import annotations

from datetime import timedelta

from webhook.core.triggers import BackupState

from tests.core.test_worker import accept, clock, make_worker, service, store  # noqa: F401 - fixtures
from tests.fakes import FakeSddc


def test_a_late_poll_keeps_the_next_on_its_cadence_and_an_outage_does_not_cause_a_burst(
        service, store, clock):  # noqa: F811 - the fixtures above
    sddc = FakeSddc(["In Progress", "In Progress", "In Progress", "Successful"])
    worker = make_worker(store, clock, sddc, poll_initial=2, poll_max=2)
    trigger = accept(service, clock, callbackUrl=None)
    worker.run_once()  # submits; first poll due 2 s later
    backup = store.get_backup(store.get_trigger(trigger.id).backup_id)
    due = backup.next_poll_at
    clock.advance(2.7)  # the worker comes 0.7 s late (busy with other instances)
    worker.run_once()
    backup = store.get_backup(backup.id)
    assert backup.state is BackupState.IN_PROGRESS
    assert backup.next_poll_at == due + timedelta(seconds=2)  # an interval after it was due, not after it ran (+2.7)
    clock.advance(10)  # an outage: long past due
    worker.run_once()
    backup = store.get_backup(backup.id)
    assert backup.next_poll_at == clock.now() + timedelta(seconds=1)  # half an interval on: no burst of polls
