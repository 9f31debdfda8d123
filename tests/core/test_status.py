"""The status views and the reachability note, over a real SQLite store with a fake clock and SDDC Manager."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from webhook.adapters.store import SqlStore, rows
from webhook.adapters.store.schema import backups, metadata, triggers
from webhook.core.errors import SddcManagerError
from webhook.core.reachability import TrackedSddcManager
from webhook.core.status import StatusService
from webhook.core.triggers import Backup, BackupState, Trigger, TriggerState
from webhook.sources.generic import default_spec

from tests.fakes import FakeClock, FakeSddc


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[SqlStore]:
    """The same reads on both backends: the day buckets are computed in SQL, which the two spell differently."""
    if request.param == "sqlite":
        found = SqlStore.from_url(f"sqlite:///{tmp_path / 'status.db'}")
    else:
        found = SqlStore.from_url(request.getfixturevalue("postgres_url"))
        metadata.drop_all(found.engine)
        metadata.create_all(found.engine)
    yield found
    found.engine.dispose()


def add_backup(store: SqlStore, clock: FakeClock, days_ago: float, minutes: float, state: BackupState,
               riders: dict[str, int]) -> Backup:
    start = clock.now() - timedelta(days=days_ago)
    backup = Backup(spec=default_spec(), state=state, created_at=start, submitted_at=start,
                    completed_at=None if state.is_active else start + timedelta(minutes=minutes))
    with store.engine.begin() as conn:
        conn.execute(backups.insert(), [rows.backup_row(backup)])
        for source, count in riders.items():
            conn.execute(triggers.insert(), [rows.trigger_row(Trigger(
                source=source, caller="ci", spec=backup.spec, received_at=start, state=TriggerState.DONE,
                backup_id=backup.id)) for _ in range(count)])
    return backup


def test_latest_backups_carry_their_trigger_counts_by_source(store):
    clock = FakeClock()
    old = add_backup(store, clock, 2, 10, BackupState.SUCCESSFUL, {"generic": 1})
    new = add_backup(store, clock, 1, 12, BackupState.FAILED, {"alertmanager": 30, "slack": 2})
    latest = StatusService(store, clock).latest_backups(10)["default"]
    assert [s.backup.id for s in latest] == [new.id, old.id]
    assert latest[0].trigger_count == 32 and latest[0].sources == {"alertmanager": 30, "slack": 2}
    page = StatusService(store, clock).backup_page(new.id, trigger_limit=5)
    assert page is not None and len(page.triggers) == 5 and page.trigger_total == 32


def test_the_chart_has_one_bucket_a_day_with_outcomes_and_durations(store):
    clock = FakeClock()
    add_backup(store, clock, 0.1, 10, BackupState.SUCCESSFUL, {})
    add_backup(store, clock, 0.2, 20, BackupState.FAILED, {})
    add_backup(store, clock, 3, 30, BackupState.SUCCESSFUL, {})
    add_backup(store, clock, 45, 30, BackupState.SUCCESSFUL, {})  # older than 30 days: not drawn
    add_backup(store, clock, 0.05, 0, BackupState.IN_PROGRESS, {})
    buckets = StatusService(store, clock).chart(30)
    assert len(buckets) == 30 and buckets[-1].day == clock.now().date()
    today = buckets[-1]
    assert today.counts == {"ok": 1, "failed": 1, "running": 1}
    assert today.mean_seconds == pytest.approx(900) and today.max_seconds == pytest.approx(1200)
    assert buckets[-4].counts == {"ok": 1} and sum(b.total for b in buckets) == 4


def test_health_says_the_store_is_down_instead_of_failing(store):
    clock = FakeClock()
    service = StatusService(store, clock)
    assert service.health().store_ok and not service.health().worker_ok  # no heartbeat yet

    class Down:
        def health_snapshot(self, since):  # noqa: ANN001, ANN201
            raise OSError("disk gone")

    health = StatusService(Down(), clock).health()  # type: ignore[arg-type]
    assert not health.store_ok and health.store_error == "OSError"


def test_reachability_is_recorded_on_change_and_probed_only_when_idle(store):
    clock, sddc = FakeClock(), FakeSddc()
    tracked = TrackedSddcManager(sddc, store, clock, refresh=30)
    status = StatusService(store, clock)
    tracked.probe(60)
    assert sddc.lists == 0 and status.snapshot().contacts == []  # starting up is not idle
    clock.advance(61)
    tracked.probe(60)
    assert sddc.lists == 1 and status.snapshot().contacts[0].reachable
    sddc.list_error = SddcManagerError("connection refused", http_status=None)
    with pytest.raises(SddcManagerError):
        tracked.list_backup_tasks()
    contact = status.snapshot().contacts[0]
    assert not contact.reachable and contact.error == "connection refused"
    assert contact.last_ok_at == clock.now()  # the probe just before answered
    clock.advance(30)
    tracked.probe(60)
    assert sddc.lists == 2  # the failed call above was a contact; 30 s later nothing is due
    sddc.list_error = SddcManagerError("not found", http_status=404)  # an answer: SDDC Manager is there
    with pytest.raises(SddcManagerError):
        tracked.list_backup_tasks()
    assert status.snapshot().contacts[0].reachable
