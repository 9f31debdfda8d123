"""Riders: waiting triggers that need nothing of their own put on their instance's running backup in bulk."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from ...core.triggers import BackupState, TriggerState
from .base import StoreBase
from .schema import backups, triggers

Riders = list[tuple[str, bool, list[str]]]  # per backup: its id, whether it is in progress, the ids attached


class RiderRows(StoreBase):
    def attach_riders(self, started_kinds: Collection[str], limit: int) -> tuple[Riders, bool]:
        """Attach waiting triggers to the active backup of their instance and spec, set-based, in one write.

        Only those that need no per-trigger work: not a fan-out, no ``reuseIfNewerThan``, and no
        "backup started" message owed (a backup in progress and a callback of a kind in
        ``started_kinds``). Nothing is read into a model. Per backup: (its id, whether it is in
        progress, the ids attached), at most ``limit`` triggers in all; and whether any trigger
        still waits (for the per-trigger path).
        """
        kind = sa.func.coalesce(triggers.c.callback["kind"].as_string(), "")
        found: list[tuple[str, bool, list[str]]] = []
        left = limit
        waiting = sa.select(triggers.c.id).where(triggers.c.state == TriggerState.ACCEPTED.value).limit(1)
        with self._tx() as conn:  # a read first: a pass with nothing waiting never takes the write lock
            if conn.execute(waiting).first() is None:
                return [], False
        with self._tx(write=True) as conn:
            active = conn.execute(sa.select(backups.c.id, backups.c.instance, backups.c.spec_key, backups.c.state)
                                  .where(backups.c.active_slot.is_not(None))).all()
            for backup_id, instance, spec_key, state in active:
                if left <= 0:
                    break
                running = state == BackupState.IN_PROGRESS.value
                query = sa.select(triggers.c.id).where(
                    triggers.c.state == TriggerState.ACCEPTED.value, triggers.c.instance == instance,
                    triggers.c.spec_key == spec_key, triggers.c.reuse_if_newer_than.is_(None))
                if running and started_kinds:
                    query = query.where(kind.not_in(list(started_kinds)))
                ids = list(conn.execute(self._lock(query.order_by(triggers.c.received_at).limit(left))).scalars())
                if ids:
                    conn.execute(triggers.update().where(triggers.c.id.in_(ids)).values(
                        state=TriggerState.ATTACHED.value, backup_id=backup_id))
                    found.append((backup_id, running, ids))
                    left -= len(ids)
            more = conn.execute(waiting).first() is not None
        return found, more
