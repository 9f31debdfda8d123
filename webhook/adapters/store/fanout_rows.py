"""Fan-out triggers: a trigger for several instances opens one child trigger per instance.

The children are ordinary triggers (each coalesces, submits and polls on its own instance); they
are keyed ``(fanout:<parent id>, <instance>)`` under the caller + dedupe UNIQUE constraint, so a
worker that crashes half way through and the one that takes over make each child exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...core.triggers import FANOUT, Backup, Delivery, Trigger, TriggerState
from . import rows
from .base import StoreBase
from .delivery_rows import insert_deliveries
from .schema import backups, triggers

_CHILD = triggers.alias("child")
_OPEN_CHILD = sa.exists().where(_CHILD.c.parent_id == triggers.c.id, _CHILD.c.state.in_(
    [TriggerState.ACCEPTED.value, TriggerState.ATTACHED.value]))
# Built once: the worker runs these every pass.
_FANOUTS_READY = (sa.select(triggers).where(triggers.c.state == TriggerState.ATTACHED.value,
                                            triggers.c.instance == FANOUT, ~_OPEN_CHILD)
                  .order_by(triggers.c.received_at).limit(sa.bindparam("limit", type_=sa.Integer)))
# "> ''" rather than "IS NOT NULL": SQLite answers it from ix_triggers_parent (NULLs sort first, out of range).
_ANY_CHILD = sa.select(triggers.c.parent_id).where(triggers.c.parent_id > "").limit(1)


class FanoutRows(StoreBase):
    def fan_out(self, parent_id: str, children: Sequence[Trigger]) -> list[Trigger] | None:
        """Store the children not stored yet and mark the parent ATTACHED: the children stored now (an
        earlier, interrupted pass may have stored the others), or None if the parent was no longer waiting."""
        with self._tx(write=True) as conn:
            moved = conn.execute(triggers.update().where(
                triggers.c.id == parent_id, triggers.c.state == TriggerState.ACCEPTED.value).values(
                state=TriggerState.ATTACHED.value))
            if moved.rowcount != 1:
                return None
            callers = {child.caller for child in children}
            taken = set(conn.execute(sa.select(triggers.c.dedupe_key).where(triggers.c.caller.in_(callers))).scalars())
            fresh = [child for child in children if child.dedupe_key not in taken]
            if fresh:
                conn.execute(triggers.insert(), [rows.trigger_row(child) for child in fresh])
            return fresh

    def fanouts_ready(self, limit: int) -> list[Trigger]:
        """Fan-out triggers out whose children have all ended (none ACCEPTED or ATTACHED): the ones to finish.

        The worker asks every pass; waiting parents are filtered here, so a 50-instance fan-out in
        flight costs one query a pass instead of reading its 50 children each time. That query walks
        every ATTACHED trigger (no index leads with ``instance``), which under a storm is thousands
        a pass: a store that holds no fan-out child at all (the parent index answers that at once)
        cannot hold a parent to finish (``fan_out`` marks a parent ATTACHED with its children), so it
        is not asked.
        """
        with self._tx() as conn:
            if conn.execute(_ANY_CHILD).first() is None:
                return []
            return [rows.trigger_of(r) for r in conn.execute(_FANOUTS_READY, {"limit": limit}).mappings()]

    def children_of(self, parent_id: str) -> list[Trigger]:
        query = sa.select(triggers).where(triggers.c.parent_id == parent_id).order_by(triggers.c.instance)
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]


class FleetAttachRows(StoreBase):
    """The attach step for many instances at once: one read and two commits, whatever the fleet's size."""

    def active_backups(self, instances: Sequence[str]) -> dict[str, Backup]:
        with self._tx() as conn:
            found = conn.execute(sa.select(backups).where(backups.c.active_slot.in_(list(instances)))).mappings()
            return {row["active_slot"]: rows.backup_of(row) for row in found}

    def open_backups(self, opening: Sequence[Backup]) -> list[tuple[Backup, bool]]:
        """Open each backup in its instance's slot, or find the one already there (one commit for all)."""
        opened: list[tuple[Backup, bool]] = []
        with self._tx(write=True) as conn:
            for backup in opening:
                try:
                    with conn.begin_nested():
                        conn.execute(backups.insert().values(**rows.backup_row(backup), active_slot=backup.instance))
                    opened.append((backup, True))
                except IntegrityError:
                    row = conn.execute(sa.select(backups).where(
                        backups.c.active_slot == backup.instance)).mappings().first()
                    if row is not None:
                        opened.append((rows.backup_of(row), False))
        return opened

    def attach_many(self, plan: Sequence[tuple[Sequence[str], str, Sequence[Delivery]]]) -> list[str]:
        """``attach_triggers`` for several backups in one commit: (trigger ids, backup id, started deliveries)."""
        attached: list[str] = []
        with self._tx(write=True) as conn:
            for trigger_ids, backup_id, started in plan:
                active = conn.execute(sa.select(backups.c.id).where(
                    backups.c.id == backup_id, backups.c.active_slot.is_not(None))).first()
                if active is None:
                    continue
                ids = list(conn.execute(self._lock(sa.select(triggers.c.id).where(
                    triggers.c.id.in_(list(trigger_ids)), triggers.c.state == TriggerState.ACCEPTED.value))).scalars())
                if ids:
                    conn.execute(triggers.update().where(triggers.c.id.in_(ids)).values(
                        state=TriggerState.ATTACHED.value, backup_id=backup_id))
                    insert_deliveries(conn, [d for d in started if d.trigger_id in ids])
                    attached += ids
        return attached
