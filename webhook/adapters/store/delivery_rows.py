"""Deliveries: owed notifications, claims with leases, attempts, deadlines and callback secrets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...core.triggers import (
    Delivery,
    DeliveryEvent,
    DeliveryOutline,
    DeliveryState,
    RecordedAttempt,
    Trigger,
    TriggerState,
)
from . import rows
from .base import NOW, Claim, StoreBase
from .schema import deliveries, triggers


def insert_deliveries(conn: Connection, owed: Sequence[Delivery]) -> None:
    """Insert deliveries inside the caller's transaction (triggers owe them as they are stored or attached)."""
    if owed:
        conn.execute(deliveries.insert(), [rows.delivery_row(d) for d in owed])


# Pending deliveries due by :now, oldest first (the delivery loop claims them every dispatch).
_DUE_DELIVERIES = Claim(deliveries, deliveries.c.state == DeliveryState.PENDING.value,
                        deliveries.c.next_attempt_at <= NOW,
                        order_by=deliveries.c.next_attempt_at)
# An attempt's record: the new state, the attempts so far, the lease let go (delivered_at kept unless delivered).
_RECORD = deliveries.update().where(deliveries.c.id == sa.bindparam("b_id")).values(
    attempts=sa.bindparam("b_attempts", type_=deliveries.c.attempts.type), state=sa.bindparam("b_state"),
    last_error=sa.bindparam("b_last_error"), lease_owner=None, lease_until=None,
    next_attempt_at=sa.bindparam("b_next", type_=sa.Float),
    delivered_at=sa.func.coalesce(sa.bindparam("b_delivered", type_=sa.Float), deliveries.c.delivered_at))


class DeliveryRows(StoreBase):
    """Deliveries and the run-task deadline bookkeeping."""

    def deliveries_of_trigger(self, trigger_id: str) -> list[Delivery]:
        query = sa.select(deliveries).where(deliveries.c.trigger_id == trigger_id).order_by(deliveries.c.created_at)
        with self._tx() as conn:
            return [rows.delivery_of(r) for r in conn.execute(query).mappings()]

    def deliveries_of_triggers(self, trigger_ids: Sequence[str]) -> dict[str, list[Delivery]]:
        """Many triggers' deliveries in one query, each list oldest first (an audit page)."""
        if not trigger_ids:
            return {}
        query = (sa.select(deliveries).where(deliveries.c.trigger_id.in_(set(trigger_ids)))
                 .order_by(deliveries.c.created_at))
        found: dict[str, list[Delivery]] = {trigger_id: [] for trigger_id in trigger_ids}
        with self._tx() as conn:
            for row in conn.execute(query).mappings():
                found[row["trigger_id"]].append(rows.delivery_of(row))
        return found

    def delivery_outlines(self, trigger_ids: Sequence[str]) -> dict[str, list[DeliveryOutline]]:
        """Many triggers' deliveries without body or target, each list oldest first: what a notifier
        weighs before it posts, at a fraction of decoding whole rows (a batch of run tasks' ``running``
        messages spent 13% of the worker loop's CPU on those JSON columns)."""
        if not trigger_ids:
            return {}
        columns = (deliveries.c.id, deliveries.c.trigger_id, deliveries.c.event, deliveries.c.state,
                   deliveries.c.attempts)
        query = (sa.select(*columns).where(deliveries.c.trigger_id.in_(set(trigger_ids)))
                 .order_by(deliveries.c.created_at))
        found: dict[str, list[DeliveryOutline]] = {trigger_id: [] for trigger_id in trigger_ids}
        with self._tx() as conn:
            for delivery_id, trigger_id, event, state, attempts in conn.execute(query):
                found[trigger_id].append(DeliveryOutline(delivery_id, DeliveryEvent(event), DeliveryState(state),
                                                         len(attempts or ())))
        return found

    def add_deliveries(self, owed: Sequence[Delivery]) -> None:
        if owed:
            with self._tx(write=True) as conn:
                insert_deliveries(conn, owed)

    def claim_deliveries(self, owner: str, now: datetime, lease_seconds: float, limit: int) -> list[Delivery]:
        return [rows.delivery_of(r) for r in self._claim(_DUE_DELIVERIES, owner, now.timestamp(), lease_seconds, limit)]

    def record_attempts(self, owner: str, attempts: Sequence[RecordedAttempt]) -> None:
        """Each attempt appended to its delivery, the delivery's new state set and its lease let go.

        One transaction for the lot: the worker sends a batch of callbacks and records them together,
        instead of paying a commit (an fsync with ``synchronous=FULL``) per callback. A delivery
        whose lease another worker took meanwhile is left alone (``lease_owner`` guard).
        """
        if not attempts:
            return
        ids = [a.delivery_id for a in attempts]
        with self._tx(write=True) as conn:
            history = dict(conn.execute(sa.select(deliveries.c.id, deliveries.c.attempts)
                                        .where(deliveries.c.id.in_(ids))).all())
            params: list[dict[str, Any]] = []
            for recorded in attempts:
                earlier = history.get(recorded.delivery_id) or []
                history[recorded.delivery_id] = [*earlier, recorded.attempt.model_dump(mode="json")]
                delivered = recorded.state is DeliveryState.DELIVERED
                params.append({
                    "b_id": recorded.delivery_id, "b_attempts": history[recorded.delivery_id],
                    "b_state": recorded.state.value, "b_last_error": recorded.last_error,
                    "b_next": recorded.next_attempt_at.timestamp() if recorded.next_attempt_at else None,
                    "b_delivered": recorded.attempt.at.timestamp() if delivered else None,
                })
            # One statement for the lot (executemany), the owner guard on each row.
            conn.execute(_RECORD.where(deliveries.c.lease_owner == owner), params)
            forgetting = {r.delivery_id: r.forget_options for r in attempts if r.forget_options}
            if forgetting:  # their records are in: erase what was kept only for them (one read, not one each)
                keys: dict[str, set[str]] = {}
                for delivery_id, trigger_id, stored in conn.execute(
                        sa.select(deliveries.c.id, deliveries.c.trigger_id, deliveries.c.attempts)
                        .where(deliveries.c.id.in_(list(forgetting)))).all():
                    if stored == history[delivery_id]:  # our record landed (no other worker's lease)
                        keys.setdefault(trigger_id, set()).update(forgetting[delivery_id])
                _forget_many(conn, keys)

    def cancel_delivery(self, delivery_id: str, owner: str, reason: str) -> None:
        with self._tx(write=True) as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner)
                         .values(state=DeliveryState.CANCELLED.value, last_error=reason, next_attempt_at=None,
                                 lease_owner=None, lease_until=None))

    def postpone_deliveries(self, delivery_ids: Sequence[str], owner: str, until: datetime) -> None:
        with self._tx(write=True) as conn:
            conn.execute(deliveries.update().where(deliveries.c.id.in_(list(delivery_ids)),
                                                   deliveries.c.lease_owner == owner)
                         .values(next_attempt_at=until.timestamp(), lease_owner=None, lease_until=None))

    def renew_delivery_leases(self, delivery_ids: Sequence[str], owner: str, now: datetime,
                              lease_seconds: float) -> list[str]:
        """Extend ``owner``'s live leases on pending deliveries to ``now + lease_seconds``; the ids renewed.

        Only a live lease is extended: once one ran out, anyone may claim the delivery, so it goes
        through a fresh claim like any other (a row another claim has locked is skipped too).
        """
        if not delivery_ids:
            return []
        t = now.timestamp()
        mine = (deliveries.c.id.in_(list(delivery_ids)), deliveries.c.lease_owner == owner,
                deliveries.c.lease_until >= t, deliveries.c.state == DeliveryState.PENDING.value)
        with self._tx(write=True) as conn:
            ids = list(conn.execute(self._lock(sa.select(deliveries.c.id).where(*mine))).scalars())
            if ids:
                conn.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(lease_until=t + lease_seconds))
        return ids

    def next_delivery_due(self, now: datetime) -> datetime | None:
        """The earliest attempt due among deliveries nobody holds a lease on (in-flight ones are not due)."""
        t = now.timestamp()
        free = sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < t)
        with self._tx() as conn:
            due = conn.execute(sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.state == DeliveryState.PENDING.value, free)).scalar()
            if due is not None:
                return rows.time_of(due)
            # Everything pending is leased: look again when the first lease runs out.
            until = conn.execute(sa.select(sa.func.min(deliveries.c.lease_until)).where(
                deliveries.c.state == DeliveryState.PENDING.value)).scalar()
        return rows.time_of(until) if until is not None else None

    # ------------------------------------------------------------------ deadlines and callback secrets
    def expire_trigger(self, trigger_id: str, completed_at: datetime, note: str) -> Trigger | None:
        """Finish a trigger at its deadline; the trigger if the deadline has the final word, else None.

        The deadline wins if the trigger is still ACCEPTED/ATTACHED (it becomes DONE here, so the
        backup's end owes it nothing), or if it is DONE without a COMPLETED delivery (an earlier
        attempt of this deadline finished it). It loses if the backup ended first. The row lock is
        a plain FOR UPDATE, not SKIP LOCKED, so a concurrent completion is waited for, not skipped.
        """
        with self._tx(write=True) as conn:
            query = sa.select(triggers).where(triggers.c.id == trigger_id)
            row = conn.execute(query if self.engine.dialect.name == "sqlite" else query.with_for_update()
                               ).mappings().first()
            if row is None or row["state"] == TriggerState.SKIPPED.value:
                return None
            if row["state"] in (TriggerState.ACCEPTED.value, TriggerState.ATTACHED.value):
                values = {"state": TriggerState.DONE.value, "completed_at": completed_at.timestamp(), "note": note}
                conn.execute(triggers.update().where(triggers.c.id == trigger_id).values(**values))
                return rows.trigger_of({**row, **values})
            completed = conn.execute(sa.select(deliveries.c.id).where(
                deliveries.c.trigger_id == trigger_id, deliveries.c.event == DeliveryEvent.COMPLETED.value
            ).limit(1)).first()
            return None if completed else rows.trigger_of(row)

    def forget_callback_options(self, trigger_id: str, keys: Sequence[str]) -> None:
        """Delete callback options (a run task's access token) from a trigger and all its deliveries."""
        with self._tx(write=True) as conn:
            _forget_many(conn, {trigger_id: set(keys)})


_SET_CALLBACK = triggers.update().where(triggers.c.id == sa.bindparam("b_id")).values(
    callback=sa.bindparam("b_value", type_=triggers.c.callback.type))
_SET_TARGET = deliveries.update().where(deliveries.c.id == sa.bindparam("b_id")).values(
    target=sa.bindparam("b_value", type_=deliveries.c.target.type))


def _forget_many(conn: Connection, keys: dict[str, set[str]]) -> None:
    """Delete callback options from triggers and all their deliveries: two reads and two executemany writes.

    A record of a storm's run-task results used to pay four statements per delivery here.
    """
    if not keys:
        return

    def without(target: Any, trigger_id: str) -> Any:
        gone = keys[trigger_id]
        options = {k: v for k, v in (target.get("options") or {}).items() if k not in gone}
        return {**target, "options": options}

    ids = list(keys)
    callbacks = [{"b_id": trigger_id, "b_value": without(callback, trigger_id)}
                 for trigger_id, callback in conn.execute(sa.select(triggers.c.id, triggers.c.callback)
                                                          .where(triggers.c.id.in_(ids))).all() if callback]
    if callbacks:
        conn.execute(_SET_CALLBACK, callbacks)
    targets = [{"b_id": delivery_id, "b_value": without(target, trigger_id)}
               for delivery_id, trigger_id, target in conn.execute(
                   sa.select(deliveries.c.id, deliveries.c.trigger_id, deliveries.c.target)
                   .where(deliveries.c.trigger_id.in_(ids))).all()]
    if targets:
        conn.execute(_SET_TARGET, targets)
