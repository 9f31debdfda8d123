"""Riders: waiting triggers that need nothing of their own put on their instance's running backup in bulk."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from ...core.delivery_policy import ANNOUNCED_BACKUP
from ...core.triggers import BackupState, TriggerState
from .base import StoreBase
from .schema import backups, triggers

Riders = list[tuple[str, bool, list[str]]]  # per backup: its id, whether it is in progress, the ids attached

# Built once: the worker runs these every pass (woken per group commit), and building them cost more
# CPU than SQLite takes to answer them.
_KIND = sa.func.coalesce(triggers.c.callback["kind"].as_string(), "")
_ANNOUNCED = triggers.c.callback[("options", ANNOUNCED_BACKUP)].as_string()
_WAITING = sa.select(triggers.c.id).where(triggers.c.state == TriggerState.ACCEPTED.value).limit(1)
_ACTIVE = sa.select(backups.c.id, backups.c.instance, backups.c.spec_key, backups.c.state).where(
    backups.c.active_slot.is_not(None))
_RIDERS = sa.select(triggers.c.id).where(
    triggers.c.state == TriggerState.ACCEPTED.value, triggers.c.instance == sa.bindparam("instance"),
    triggers.c.spec_key == sa.bindparam("spec_key"), triggers.c.reuse_if_newer_than.is_(None)).order_by(
    triggers.c.received_at).limit(sa.bindparam("limit", type_=sa.Integer))
_RIDERS_OWING_NOTHING = _RIDERS.where(sa.or_(_KIND.not_in(sa.bindparam("started_kinds", expanding=True)),
                                              sa.bindparam("backup_id") == _ANNOUNCED))
_ATTACH = triggers.update().where(triggers.c.id.in_(sa.bindparam("ids", expanding=True))).values(
    state=TriggerState.ATTACHED.value, backup_id=sa.bindparam("to_backup"))


class RiderRows(StoreBase):
    def attach_riders(self, started_kinds: Collection[str], limit: int) -> tuple[Riders, bool]:
        """Attach waiting triggers to the active backup of their instance and spec, set-based, in one write.

        Only those that need no per-trigger work: not a fan-out, no ``reuseIfNewerThan``, and no
        "backup started" message owed (a backup in progress and a callback of a kind in
        ``started_kinds``, unless the caller was already told it rides this backup). Nothing is
        read into a model. Per backup: (its id, whether it is in progress, the ids attached), at
        most ``limit`` triggers in all; and whether any trigger still waits (for the per-trigger path).
        """
        found: list[tuple[str, bool, list[str]]] = []
        left = limit
        with self._tx() as conn:  # a read first: a pass with nothing waiting never takes the write lock
            if conn.execute(_WAITING).first() is None:
                return [], False
        with self._tx(write=True) as conn:
            active = conn.execute(_ACTIVE).all()
            for backup_id, instance, spec_key, state in active:
                if left <= 0:
                    break
                running = state == BackupState.IN_PROGRESS.value
                params: dict[str, object] = {"instance": instance, "spec_key": spec_key, "limit": left}
                query = _RIDERS
                if running and started_kinds:
                    query = _RIDERS_OWING_NOTHING
                    params.update(started_kinds=list(started_kinds), backup_id=backup_id)
                ids = list(conn.execute(self._lock(query), params).scalars())
                if ids:
                    conn.execute(_ATTACH, {"ids": ids, "to_backup": backup_id})
                    found.append((backup_id, running, ids))
                    left -= len(ids)
            more = conn.execute(_WAITING).first() is not None
        return found, more
