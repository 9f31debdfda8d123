"""Triggers: idempotent inserts, the audit trail, attach and complete."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ...core.errors import InvalidRequest, StoreUnavailable
from ...core.intake_riders import may_ride, ride_at_intake, unmark
from ...core.triggers import (
    Delivery,
    Trigger,
    TriggerState,
)
from . import rows
from .base import StoreBase
from .delivery_rows import insert_deliveries
from .group_commit import GroupCommit
from .schema import backups, deliveries, triggers
from .sqlite_readers import SqliteReaders
from .trigger_inserts import BatchWriter, CoreWriter, sqlite_transaction

# Statements the request path runs on every call, built once: building and cache-keying a Core
# statement costs as much CPU as SQLite takes to run it.
_BY_ID = sa.select(triggers).where(triggers.c.id == sa.bindparam("id"))
_RECENT_CORRELATED = (
    sa.select(triggers.c.id)
    .where(triggers.c.source == sa.bindparam("source"), triggers.c.correlation_key == sa.bindparam("key"),
           triggers.c.received_at >= sa.bindparam("since"), triggers.c.state != TriggerState.SKIPPED.value)
    .order_by(triggers.c.received_at.desc()).limit(1))
# The worker asks this on every pass (woken per stored trigger): a built statement saves it the building.
_ACCEPTED = (sa.select(triggers).where(triggers.c.state == TriggerState.ACCEPTED.value)
             .order_by(triggers.c.received_at).limit(sa.bindparam("limit", type_=sa.Integer)))
# The same lookup on SQLite, straight to the DBAPI (the ix_triggers_correlation index answers it): it runs
# on every Alertmanager notification, and Core's connect/begin/execute cost more CPU than SQLite's read.
_RECENT_CORRELATED_ID = ("SELECT id FROM triggers WHERE source = ? AND correlation_key = ? AND received_at >= ? "
                         "AND state != ? ORDER BY received_at DESC LIMIT 1")


@dataclass(frozen=True)
class NewTrigger:
    trigger: Trigger
    owed: Sequence[Delivery] = ()


class TriggerRows(StoreBase):
    """Triggers: idempotent on (caller, dedupe key); state changes are conditional updates."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._group: GroupCommit[NewTrigger, tuple[Trigger, bool]] = GroupCommit(self._add_batch, self._writer_lock)
        self._sqlite_batch = sqlite_transaction(self.engine) if self.engine.dialect.name == "sqlite" else None
        self._readers = SqliteReaders(self.engine)
        self._intake_started_kinds: frozenset[str] | None = None  # None: the worker attaches every rider

    def add_trigger(self, trigger: Trigger, owed: Sequence[Delivery] = ()) -> tuple[Trigger, bool]:
        """Store ``trigger`` unless (caller, dedupe key) is taken; the stored one and whether it is new.

        ``owed`` (deliveries the trigger owes from the start) is stored in the same transaction if the
        trigger is new. Concurrent calls share a transaction (see ``group_commit``); each returns
        after the commit that holds its rows.
        """
        return self._group.add(NewTrigger(trigger, owed))

    def trigger_commits(self) -> int:
        """How many group commits of new triggers this process has made (the doorbell coalesces by it)."""
        return self._group.committed

    def _add_batch(self, batch: Sequence[NewTrigger]) -> list[tuple[Trigger, bool] | Exception]:
        marked: list[Trigger] = []
        try:
            with self._batch_writer() as writer:
                marked = self._ride_at_intake(writer, batch)
                taken = writer.insert_fresh([n.trigger for n in batch])
                fresh = [n for n in batch if n.trigger.dedupe_key is None
                         or taken.get((n.trigger.caller, n.trigger.dedupe_key), n.trigger.id) == n.trigger.id]
                owed = [rows.delivery_row(d) for n in fresh for d in n.owed]
                if owed:
                    writer.insert(deliveries, owed)
        except (IntegrityError, InvalidRequest):
            # The database refused a value of one row (or a key was taken after a look on a writer that
            # looks first): one at a time, so only that row's caller hears about it and the others commit.
            unmark(marked)  # stored ACCEPTED: the worker attaches them, reading the backups afresh
            return [self._add_alone(new) for new in batch]
        except BaseException:
            unmark(marked)
            raise
        created = {n.trigger.id for n in fresh}
        return [(n.trigger, True) if n.trigger.id in created else (self._stored_twin(n.trigger, taken), False)
                for n in batch]

    def ride_at_intake(self, started_kinds: frozenset[str]) -> None:
        """From now on store new riders that owe nothing of their own already ATTACHED (``core.intake_riders``);
        ``started_kinds``: the callback kinds that want a "backup started" message."""
        self._intake_started_kinds = started_kinds

    def _ride_at_intake(self, writer: BatchWriter, batch: Sequence[NewTrigger]) -> list[Trigger]:
        kinds = self._intake_started_kinds
        if kinds is None:
            return []
        riders = [n.trigger for n in batch if may_ride(n.trigger)]
        return ride_at_intake(riders, writer.active_backups(), kinds) if riders else []  # no read if none may

    @contextmanager
    def _batch_writer(self) -> Iterator[BatchWriter]:
        if self._sqlite_batch is None:
            with self._tx(write=True) as conn:
                yield CoreWriter(conn)
            return
        try:
            with self._sqlite_batch() as writer:
                yield writer
        except sqlite3.IntegrityError as exc:
            raise IntegrityError("INSERT INTO triggers", None, exc) from exc
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    def _stored_twin(self, trigger: Trigger, taken: dict[tuple[str, str], str]) -> Trigger:
        assert trigger.dedupe_key is not None
        stored = self.get_trigger(taken[(trigger.caller, trigger.dedupe_key)])
        if stored is None:
            raise StoreUnavailable("The trigger conflicted with one that cannot be read back.")
        return stored

    def _add_alone(self, new: NewTrigger) -> tuple[Trigger, bool] | Exception:
        try:
            return self._add_one(new)
        except InvalidRequest as refused:
            return refused

    def _add_one(self, new: NewTrigger) -> tuple[Trigger, bool]:
        trigger = new.trigger
        try:
            with self._tx(write=True) as conn:
                conn.execute(triggers.insert(), rows.trigger_row(trigger))
                if new.owed:
                    conn.execute(deliveries.insert(), [rows.delivery_row(d) for d in new.owed])
            return trigger, True
        except IntegrityError:
            existing = self._by_dedupe(trigger.caller, trigger.dedupe_key)
            if existing is None:
                raise StoreUnavailable("The trigger conflicted with one that cannot be read back.") from None
            return existing, False

    def skip_trigger(self, trigger: Trigger, owed: Sequence[Delivery] = ()) -> tuple[Trigger, bool]:
        trigger.state = TriggerState.SKIPPED
        trigger.completed_at = trigger.completed_at or trigger.received_at
        return self.add_trigger(trigger, owed)

    def _by_dedupe(self, caller: str, key: str | None) -> Trigger | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(triggers).where(
                triggers.c.caller == caller, triggers.c.dedupe_key == key)).mappings().first()
        return rows.trigger_of(row) if row else None

    def get_trigger(self, trigger_id: str) -> Trigger | None:
        with self._tx() as conn:
            row = conn.execute(_BY_ID, {"id": trigger_id}).mappings().first()
        return rows.trigger_of(row) if row else None

    def latest_trigger(self, source: str | None = None) -> Trigger | None:
        found = self.list_triggers(source=source, state=None, since=None, limit=1)
        return found[0] if found else None

    def list_triggers(
        self, *, source: str | None, state: TriggerState | None, since: datetime | None, limit: int,
        before_id: str | None = None, caller: str | None = None, instance: str | None = None,
    ) -> list[Trigger]:
        query = sa.select(triggers)
        if source:
            query = query.where(triggers.c.source == source)
        if caller:
            query = query.where(triggers.c.caller == caller)
        if instance:
            query = query.where(triggers.c.instance == instance)
        if state:
            query = query.where(triggers.c.state == state.value)
        if since:
            query = query.where(triggers.c.received_at >= since.timestamp())
        with self._tx() as conn:
            if before_id:
                anchor = conn.execute(sa.select(triggers.c.received_at).where(triggers.c.id == before_id)).scalar()
                if anchor is not None:
                    query = query.where(sa.or_(
                        triggers.c.received_at < anchor,
                        sa.and_(triggers.c.received_at == anchor, triggers.c.id < before_id)))
            query = query.order_by(triggers.c.received_at.desc(), triggers.c.id.desc()).limit(limit)
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def recent_correlated(self, source: str, correlation_key: str, since: datetime) -> Trigger | None:
        """The latest trigger of this source and correlation that was not itself skipped."""
        if self._sqlite_batch is not None:
            return self._recent_correlated_sqlite(source, correlation_key, since)
        with self._read_once() as conn:
            found = conn.execute(_RECENT_CORRELATED, {"source": source, "key": correlation_key,
                                                      "since": since.timestamp()}).scalar()
        return self.get_trigger(found) if found else None

    def _recent_correlated_sqlite(self, source: str, correlation_key: str, since: datetime) -> Trigger | None:
        """Usually nothing is found (no cooldown running): one indexed read of an id; the row only on a hit."""
        params = (source, correlation_key, since.timestamp(), TriggerState.SKIPPED.value)
        try:
            with self._readers.borrow() as connection:
                found = next(iter(connection.execute(_RECENT_CORRELATED_ID, params).fetchall()), None)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc
        return self.get_trigger(found[0]) if found else None

    def accepted_triggers(self, limit: int) -> list[Trigger]:
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(_ACCEPTED, {"limit": limit}).mappings()]

    def triggers_of_backup(self, backup_id: str, state: TriggerState | None = None,
                           limit: int | None = None) -> list[Trigger]:
        query = sa.select(triggers).where(triggers.c.backup_id == backup_id)
        if state:
            query = query.where(triggers.c.state == state.value)
        query = query.order_by(triggers.c.received_at, triggers.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def stranded_triggers(self, limit: int) -> list[Trigger]:
        # EXISTS, not a JOIN: with a join SQLite starts from the ended backups and walks every
        # historic trigger they own on each worker cycle; this way it starts from the few ATTACHED ones.
        ended = sa.exists().where(backups.c.id == triggers.c.backup_id, backups.c.active_slot.is_(None))
        query = sa.select(triggers).where(triggers.c.state == TriggerState.ATTACHED.value, ended).limit(limit)
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def attach_triggers(self, trigger_ids: Sequence[str], backup_id: str, started: Sequence[Delivery]) -> list[str]:
        with self._tx(write=True) as conn:
            active = conn.execute(sa.select(backups.c.id).where(
                backups.c.id == backup_id, backups.c.active_slot.is_not(None))).first()
            if active is None:
                return []
            ids = self._eligible(conn, trigger_ids, (TriggerState.ACCEPTED,))
            if ids:
                conn.execute(triggers.update().where(triggers.c.id.in_(ids)).values(
                    state=TriggerState.ATTACHED.value, backup_id=backup_id))
                insert_deliveries(conn, [d for d in started if d.trigger_id in ids])
            return ids

    def complete_triggers(
        self, trigger_ids: Sequence[str], backup_id: str | None, completed_at: datetime, note: str | None,
        deliveries_owed: Sequence[Delivery],
    ) -> list[str]:
        with self._tx(write=True) as conn:
            ids = self._eligible(conn, trigger_ids, (TriggerState.ACCEPTED, TriggerState.ATTACHED))
            if ids:
                values: dict[str, Any] = {"state": TriggerState.DONE.value, "backup_id": backup_id,
                                          "completed_at": completed_at.timestamp()}
                if note:
                    values["note"] = note
                conn.execute(triggers.update().where(triggers.c.id.in_(ids)).values(**values))
                insert_deliveries(conn, [d for d in deliveries_owed if d.trigger_id in ids])
            return ids

    def _eligible(self, conn: Connection, ids: Sequence[str], states: Sequence[TriggerState]) -> list[str]:
        query = sa.select(triggers.c.id).where(
            triggers.c.id.in_(list(ids)), triggers.c.state.in_([s.value for s in states]))
        return list(conn.execute(self._lock(query)).scalars())
