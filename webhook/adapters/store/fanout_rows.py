"""Fan-out triggers: a trigger for several instances opens one child trigger per instance.

The children are ordinary triggers (each coalesces, submits and polls on its own instance); they
are keyed ``(fanout:<parent id>, <instance>)`` under the caller + dedupe UNIQUE constraint, so a
worker that crashes half way through and the one that takes over make each child exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ...core.triggers import FANOUT, Trigger, TriggerState
from . import rows
from .base import StoreBase
from .schema import triggers


class FanoutRows(StoreBase):
    def fan_out(self, parent_id: str, children: Sequence[Trigger]) -> bool:
        """Store the children not stored yet and mark the parent ATTACHED; False if it was no longer waiting."""
        with self._tx(write=True) as conn:
            moved = conn.execute(triggers.update().where(
                triggers.c.id == parent_id, triggers.c.state == TriggerState.ACCEPTED.value).values(
                state=TriggerState.ATTACHED.value))
            if moved.rowcount != 1:
                return False
            callers = {child.caller for child in children}
            taken = set(conn.execute(sa.select(triggers.c.dedupe_key).where(triggers.c.caller.in_(callers))).scalars())
            fresh = [rows.trigger_row(child) for child in children if child.dedupe_key not in taken]
            if fresh:
                conn.execute(triggers.insert(), fresh)
            return True

    def fanouts_waiting(self, limit: int) -> list[Trigger]:
        """Fan-out triggers whose children are out: the worker finishes each once all its children did."""
        query = (sa.select(triggers).where(triggers.c.state == TriggerState.ATTACHED.value,
                                           triggers.c.instance == FANOUT)
                 .order_by(triggers.c.received_at).limit(limit))
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def children_of(self, parent_id: str) -> list[Trigger]:
        query = sa.select(triggers).where(triggers.c.parent_id == parent_id).order_by(triggers.c.instance)
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]
