"""What the status page and the scrape-time gauges read: bounded, read-only views of the store.

Every view is a fixed number of queries whatever the history holds (no query per row): a page of
backups with their trigger counts in one grouped query, a backup's triggers and all their
deliveries in two, 30 days of outcomes as light rows. Nothing here writes or calls SDDC Manager.

Backups carry the name of the SDDC Manager they ran on (``instance``). Today a service drives one
SDDC Manager, named ``default``; a fleet gives each its name and every view here already groups by it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from .triggers import Backup, BackupState, Delivery, Trigger, TriggerState

log = logging.getLogger("webhook.status")

DEFAULT_INSTANCE = "default"


@dataclass(frozen=True)
class BackupSummary:
    """One backup and who rode on it: ``sources`` maps a trigger source to how many triggers it sent."""

    backup: Backup
    trigger_count: int
    sources: dict[str, int]
    instance: str = DEFAULT_INSTANCE

    @property
    def duration_seconds(self) -> float | None:
        return backup_duration(self.backup)


@dataclass(frozen=True, slots=True)
class OutcomeDay:
    """Backups of one state that started on one UTC day, summed by the store (the chart reads 30 of these
    per state, not a month of rows)."""

    day: int  # days since the ``since`` the store was asked about
    state: str
    count: int
    timed: int  # of which ended (have a duration)
    duration_sum: float
    duration_max: float | None
    instance: str = DEFAULT_INSTANCE


@dataclass(frozen=True)
class SddcContact:
    """The last time a worker talked to an SDDC Manager, and whether it answered."""

    instance: str
    reachable: bool
    checked_at: datetime
    last_ok_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class HealthSnapshot:
    """What the store knows about the service's health, read in one transaction."""

    last_heartbeat: datetime | None
    contacts: list[SddcContact]
    last_end: dict[tuple[str, str], datetime]  # (instance, backup state) → latest completion
    accepted_triggers: int
    pending_deliveries: int
    gave_up_recently: int

    def last_successful(self, instance: str = DEFAULT_INSTANCE) -> datetime | None:
        return self.last_end.get((instance, BackupState.SUCCESSFUL.value))


class StatusStore(Protocol):
    """The read-only store methods this module uses (a subset of ``core.ports.Store``)."""

    def backup_summaries(self, limit: int, before: datetime | None = None) -> list[BackupSummary]: ...
    def backup_outcome_days(self, since: datetime) -> list[OutcomeDay]: ...
    def get_backup(self, backup_id: str) -> Backup | None: ...
    def backup_triggers(self, backup_id: str, limit: int) -> list[Trigger]: ...
    def trigger_sources(self, backup_ids: Sequence[str]) -> dict[str, dict[str, int]]: ...
    def deliveries_of_triggers(self, trigger_ids: Sequence[str]) -> dict[str, list[Delivery]]: ...
    def backups_by_id(self, backup_ids: Sequence[str]) -> dict[str, Backup]: ...
    def list_triggers(
        self, *, source: str | None, state: TriggerState | None, since: datetime | None, limit: int,
        before_id: str | None = None, caller: str | None = None,
    ) -> list[Trigger]: ...
    def health_snapshot(self, gave_up_since: datetime) -> HealthSnapshot: ...
    def gave_up_deliveries(self, limit: int) -> list[Delivery]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


def backup_duration(backup: Backup) -> float | None:
    started = backup.submitted_at or backup.created_at
    return (backup.completed_at - started).total_seconds() if backup.completed_at else None


@dataclass(frozen=True)
class BackupPage:
    backup: Backup
    triggers: list[Trigger]
    trigger_total: int
    deliveries: dict[str, list[Delivery]]  # trigger id → its deliveries, oldest first
    sources: dict[str, int]
    instance: str = DEFAULT_INSTANCE


@dataclass(frozen=True)
class TriggerFilter:
    source: str | None = None
    state: TriggerState | None = None
    caller: str | None = None


@dataclass(frozen=True)
class TriggerList:
    triggers: list[Trigger]
    backups: dict[str, Backup]
    next_before: str | None


@dataclass
class DayBucket:
    day: date
    counts: dict[str, int] = field(default_factory=dict)  # outcome class (ok, failed, running) → backups
    timed: int = 0
    duration_sum: float = 0.0
    max_seconds: float | None = None

    @property
    def mean_seconds(self) -> float | None:
        return self.duration_sum / self.timed if self.timed else None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Health:
    store_ok: bool
    store_error: str | None
    heartbeat_age: float | None
    worker_ok: bool
    contacts: list[SddcContact]
    gave_up_recently: int
    gave_up: list[Delivery]
    accepted_triggers: int
    pending_deliveries: int
    last_successful: datetime | None
    gave_up_window_hours: int

    @property
    def ok(self) -> bool:
        return (self.store_ok and self.worker_ok and self.gave_up_recently == 0
                and all(c.reachable for c in self.contacts))


def outcome_class(state: BackupState) -> str:
    """ok, failed or running: the three colours the page and the chart use."""
    if state.is_active:
        return "running"
    return "ok" if state is BackupState.SUCCESSFUL else "failed"


class StatusService:
    """Read-only views for the status page; each one a fixed number of store queries."""

    def __init__(self, store: StatusStore, clock: Clock, *, worker_stale_after: float = 60.0,
                 gave_up_window: timedelta = timedelta(hours=24)) -> None:
        self.store = store
        self.clock = clock
        self.worker_stale_after = worker_stale_after
        self.gave_up_window = gave_up_window

    def latest_backups(self, per_instance: int = 10) -> dict[str, list[BackupSummary]]:
        """The latest backups of each SDDC Manager, newest first."""
        grouped: dict[str, list[BackupSummary]] = {}
        for summary in self.store.backup_summaries(per_instance):
            grouped.setdefault(summary.instance, []).append(summary)
        return grouped or {DEFAULT_INSTANCE: []}

    def backup_page(self, backup_id: str, trigger_limit: int = 200) -> BackupPage | None:
        backup = self.store.get_backup(backup_id)
        if backup is None:
            return None
        sources = self.store.trigger_sources([backup_id]).get(backup_id, {})
        triggers = self.store.backup_triggers(backup_id, trigger_limit)
        by_trigger = self.store.deliveries_of_triggers([t.id for t in triggers])
        return BackupPage(backup, triggers, sum(sources.values()), by_trigger, sources)

    def triggers(self, filters: TriggerFilter, limit: int = 50, before_id: str | None = None) -> TriggerList:
        found = self.store.list_triggers(source=filters.source, state=filters.state, since=None, limit=limit,
                                         before_id=before_id, caller=filters.caller)
        backups = self.store.backups_by_id(sorted({t.backup_id for t in found if t.backup_id}))
        return TriggerList(found, backups, found[-1].id if len(found) == limit else None)

    def chart(self, days: int = 30) -> list[DayBucket]:
        """One bucket per UTC day of the last ``days`` days (oldest first), empty days included."""
        today = self.clock.now().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        buckets = [DayBucket(first + timedelta(days=k)) for k in range(days)]
        since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        classes = {state.value: outcome_class(state) for state in BackupState}
        for row in self.store.backup_outcome_days(since):
            if not 0 <= row.day < days:
                continue
            bucket = buckets[row.day]
            kind = classes.get(row.state, "failed")
            bucket.counts[kind] = bucket.counts.get(kind, 0) + row.count
            if row.timed and kind != "running" and row.duration_max is not None:
                bucket.timed += row.timed
                bucket.duration_sum += max(0.0, row.duration_sum)
                bucket.max_seconds = max(bucket.max_seconds or 0.0, row.duration_max)
        return buckets

    def snapshot(self) -> HealthSnapshot:
        """For the scrape-time gauges; raises if the store does not answer."""
        return self.store.health_snapshot(self.clock.now() - self.gave_up_window)

    def health(self, gave_up_limit: int = 10) -> Health:
        now = self.clock.now()
        hours = int(self.gave_up_window.total_seconds() // 3600)
        try:
            snap = self.snapshot()
            gave_up = self.store.gave_up_deliveries(gave_up_limit) if snap.gave_up_recently and gave_up_limit else []
        except Exception as exc:  # the page must still say what it can: the store is the news
            log.warning("status read failed", extra={"event": "status.store_failed", "error": type(exc).__name__})
            return Health(False, type(exc).__name__, None, False, [], 0, [], 0, 0, None, hours)
        age = (now - snap.last_heartbeat).total_seconds() if snap.last_heartbeat else None
        return Health(
            store_ok=True, store_error=None, heartbeat_age=age,
            worker_ok=age is not None and age <= self.worker_stale_after, contacts=snap.contacts,
            gave_up_recently=snap.gave_up_recently, gave_up=gave_up, accepted_triggers=snap.accepted_triggers,
            pending_deliveries=snap.pending_deliveries, last_successful=snap.last_successful(),
            gave_up_window_hours=hours,
        )
