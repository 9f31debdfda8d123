"""Worker heartbeats, lease release, the next due time, and history pruning."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...core.triggers import (
    DeliveryState,
    TriggerState,
)
from . import rows
from .base import ACTIVE, StoreBase
from .schema import backups, deliveries, triggers, worker_faults, workers


class WorkerRows(StoreBase):
    """Heartbeats, leases, wake-up times and retention."""

    def heartbeat(self, worker_id: str, now: datetime) -> None:
        with self._tx(write=True) as conn:
            updated = conn.execute(workers.update().where(workers.c.worker_id == worker_id)
                                   .values(beat_at=now.timestamp()))
            if updated.rowcount == 0:
                conn.execute(workers.insert().values(worker_id=worker_id, beat_at=now.timestamp()))

    def last_heartbeat(self) -> datetime | None:
        with self._tx() as conn:
            value = conn.execute(sa.select(sa.func.max(workers.c.beat_at))).scalar()
        return rows.time_of(value)

    def release_leases(self, owner: str) -> None:
        with self._tx(write=True) as conn:
            for table in (backups, deliveries):
                conn.execute(table.update().where(table.c.lease_owner == owner)
                             .values(lease_owner=None, lease_until=None))
            conn.execute(workers.delete().where(workers.c.worker_id == owner))
            conn.execute(worker_faults.delete().where(worker_faults.c.worker_id == owner))

    def next_due(self, now: datetime | None = None) -> datetime | None:
        """When the loop has work next. Given ``now``, a backup leased past it (an instance's job in
        flight, a crashed worker's lease) is not due before its lease runs out: the loop then sleeps
        until the next poll nobody holds instead of waking for the ones in flight."""
        polls: list[sa.ColumnElement[bool]] = [backups.c.state.in_(ACTIVE)]
        if now is not None:
            polls.append(sa.or_(backups.c.lease_until.is_(None), backups.c.lease_until < now.timestamp()))
        with self._tx() as conn:
            if conn.execute(sa.select(triggers.c.id).where(
                    triggers.c.state == TriggerState.ACCEPTED.value).limit(1)).first():
                return rows.time_of(0.0)
            if conn.execute(sa.select(backups.c.id).where(*polls, backups.c.next_poll_at.is_(None)).limit(1)).first():
                return rows.time_of(0.0)
            due = conn.execute(sa.select(sa.func.min(backups.c.next_poll_at)).where(*polls)).scalar()
            if due is None and now is not None:  # every active backup is leased: when the first lease runs out
                due = conn.execute(sa.select(sa.func.min(backups.c.lease_until))
                                   .where(backups.c.state.in_(ACTIVE))).scalar()
        return rows.time_of(due) if due is not None else None

    def report_fault(self, worker_id: str, now: datetime, fault: str | None) -> None:
        with self._tx(write=True) as conn:
            conn.execute(worker_faults.delete().where(worker_faults.c.worker_id == worker_id))
            if fault is not None:
                conn.execute(worker_faults.insert().values(worker_id=worker_id, since=now.timestamp(), reason=fault))

    def worker_faults(self) -> list[str]:
        with self._tx() as conn:
            return list(conn.execute(sa.select(worker_faults.c.reason).order_by(worker_faults.c.since)).scalars())

    def check_writable(self) -> None:
        """A write that keeps nothing: the write lock is taken and a row inserted, then rolled back."""
        try:
            with self._tx(write=True) as conn:
                conn.execute(worker_faults.insert().values(worker_id="write-probe", since=0.0, reason="probe"))
                raise _RollBack
        except _RollBack:
            pass
        except IntegrityError as exc:
            raise self._unavailable(exc) from exc


    def prune(self, before: datetime) -> dict[str, int]:
        """Delete finished history older than ``before``; never anything still owed to someone."""
        t = before.timestamp()
        finished = (TriggerState.DONE.value, TriggerState.SKIPPED.value)
        with self._tx(write=True) as conn:
            old = sa.select(triggers.c.id).where(triggers.c.state.in_(finished), triggers.c.received_at < t)
            owed = sa.select(deliveries.c.trigger_id).where(deliveries.c.state == DeliveryState.PENDING.value)
            doomed = old.where(triggers.c.id.not_in(owed))
            gone_deliveries = conn.execute(deliveries.delete().where(deliveries.c.trigger_id.in_(doomed))).rowcount
            gone_triggers = conn.execute(triggers.delete().where(
                triggers.c.state.in_(finished), triggers.c.received_at < t,
                triggers.c.id.not_in(sa.select(deliveries.c.trigger_id)))).rowcount
            referenced = sa.select(triggers.c.backup_id).where(triggers.c.backup_id.is_not(None))
            gone_backups = conn.execute(backups.delete().where(
                backups.c.active_slot.is_(None), backups.c.created_at < t,
                backups.c.id.not_in(referenced))).rowcount
        return {"triggers": gone_triggers, "deliveries": gone_deliveries, "backups": gone_backups}

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute(sa.text("SELECT 1"))

class _RollBack(Exception):
    """Leaves ``check_writable``'s transaction without committing it."""
