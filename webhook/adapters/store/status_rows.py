"""Read-only views for the status page and the scrape-time gauges; each a fixed number of queries.

Also the one write the status needs from the worker: the last word it had from SDDC Manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from ...core.status import DEFAULT_INSTANCE, BackupSummary, HealthSnapshot, OutcomeDay, SddcContact
from ...core.triggers import Delivery, DeliveryState, Trigger, TriggerState
from . import rows
from .base import StoreBase
from .schema import backups, deliveries, sddc_contacts, triggers, workers

_CHUNK = 500  # ids per IN (...) list, well under every backend's parameter limit

# Statements built once: building and cache-keying a Core statement costs about as much CPU as SQLite
# takes to run these, and the overview runs them on every view.
_LATEST = (sa.select(backups).order_by(backups.c.created_at.desc(), backups.c.id.desc())
           .limit(sa.bindparam("limit")))
_SOURCES = (sa.select(triggers.c.backup_id, triggers.c.source, sa.func.count())
            .where(triggers.c.backup_id.in_(sa.bindparam("ids", expanding=True)))
            .group_by(triggers.c.backup_id, triggers.c.source))
_STARTED = sa.func.coalesce(backups.c.submitted_at, backups.c.created_at)
_OFFSET = (_STARTED - sa.bindparam("origin", type_=sa.Float)) / 86400.0  # never negative: started >= since
_DAY = {"sqlite": sa.cast(_OFFSET, sa.Integer),  # truncates
        "other": sa.cast(sa.func.floor(_OFFSET), sa.Integer)}  # PostgreSQL's cast rounds, so floor first
_OUTCOME_DAYS = {
    dialect: sa.select(day.label("day"), backups.c.state, sa.func.count(), sa.func.count(backups.c.completed_at),
                       sa.func.sum(backups.c.completed_at - _STARTED), sa.func.max(backups.c.completed_at - _STARTED))
    .where(backups.c.created_at >= sa.bindparam("origin", type_=sa.Float)).group_by(day, backups.c.state)
    for dialect, day in _DAY.items()}
_HEALTH = sa.select(
    sa.select(sa.func.max(workers.c.beat_at)).scalar_subquery(),
    sa.select(sa.func.count()).select_from(triggers)
    .where(triggers.c.state == TriggerState.ACCEPTED.value).scalar_subquery(),
    sa.select(sa.func.count()).select_from(deliveries)
    .where(deliveries.c.state == DeliveryState.PENDING.value).scalar_subquery(),
    sa.select(sa.func.count()).select_from(deliveries)
    .where(deliveries.c.state == DeliveryState.GAVE_UP.value,
           deliveries.c.created_at >= sa.bindparam("since", type_=sa.Float)).scalar_subquery(),
)
_CONTACTS = sa.select(sddc_contacts).order_by(sddc_contacts.c.instance)
_ENDS = (sa.select(backups.c.state, sa.func.max(backups.c.completed_at))
         .where(backups.c.completed_at.is_not(None)).group_by(backups.c.state))


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[k:k + _CHUNK] for k in range(0, len(unique), _CHUNK)]


class StatusRows(StoreBase):
    """Bounded reads: a page of rows plus one grouped query, never a query per row."""

    def backup_summaries(self, limit: int, before: datetime | None = None) -> list[BackupSummary]:
        query = _LATEST if before is None else _LATEST.where(backups.c.created_at < before.timestamp())
        with self._tx() as conn:
            found = [rows.backup_of(r) for r in conn.execute(query, {"limit": limit}).mappings()]
            sources = self._sources(conn, [b.id for b in found])
        return [BackupSummary(b, sum(sources.get(b.id, {}).values()), sources.get(b.id, {})) for b in found]

    def trigger_sources(self, backup_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        with self._tx() as conn:
            return self._sources(conn, backup_ids)

    def _sources(self, conn: sa.Connection, backup_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for chunk in _chunks(backup_ids):
            for backup_id, source, count in conn.execute(_SOURCES, {"ids": chunk}):
                found.setdefault(backup_id, {})[source] = int(count)
        return found

    def backup_outcome_days(self, since: datetime) -> list[OutcomeDay]:
        """Backups since ``since`` summed per UTC day (counted from ``since``) and state, in SQL."""
        query = _OUTCOME_DAYS["sqlite" if self.engine.dialect.name == "sqlite" else "other"]
        with self._tx() as conn:
            return [OutcomeDay(int(d), state, int(n), int(timed), float(total or 0.0),
                               None if longest is None else float(longest))
                    for d, state, n, timed, total, longest in conn.execute(query, {"origin": since.timestamp()})]

    def backup_triggers(self, backup_id: str, limit: int) -> list[Trigger]:
        query = (sa.select(triggers).where(triggers.c.backup_id == backup_id)
                 .order_by(triggers.c.received_at, triggers.c.id).limit(limit))
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def health_snapshot(self, gave_up_since: datetime) -> HealthSnapshot:
        with self._tx() as conn:
            beat, accepted, pending, gave_up = conn.execute(_HEALTH, {"since": gave_up_since.timestamp()}).one()
            contacts = [
                SddcContact(r["instance"], bool(r["reachable"]), rows.time_of(r["checked_at"]),  # type: ignore[arg-type]
                            rows.time_of(r["last_ok_at"]), r["error"])
                for r in conn.execute(_CONTACTS).mappings()]
            ends = conn.execute(_ENDS).all()
        return HealthSnapshot(
            last_heartbeat=rows.time_of(beat), contacts=contacts,
            last_end={(DEFAULT_INSTANCE, state): rows.time_of(at) for state, at in ends},  # type: ignore[misc]
            accepted_triggers=int(accepted or 0), pending_deliveries=int(pending or 0),
            gave_up_recently=int(gave_up or 0),
        )

    def gave_up_deliveries(self, limit: int) -> list[Delivery]:
        query = (sa.select(deliveries).where(deliveries.c.state == DeliveryState.GAVE_UP.value)
                 .order_by(deliveries.c.created_at.desc()).limit(limit))
        with self._tx() as conn:
            return [rows.delivery_of(r) for r in conn.execute(query).mappings()]

    def record_sddc_contact(self, contact: SddcContact) -> None:
        values = {"reachable": contact.reachable, "checked_at": contact.checked_at.timestamp(),
                  "error": contact.error}
        if contact.reachable:
            values["last_ok_at"] = contact.checked_at.timestamp()
        with self._tx(write=True) as conn:
            updated = conn.execute(sddc_contacts.update().where(sddc_contacts.c.instance == contact.instance)
                                   .values(**values))
            if updated.rowcount == 0:
                conn.execute(sddc_contacts.insert().values(instance=contact.instance, **values))
