"""The store: SQLAlchemy Core over SQLite (WAL, the embedded default) or PostgreSQL (by URL).

Every public method is one transaction. Conditional UPDATEs and the leases they set are the only
locks, so web processes, worker loops and replicas need no memory of each other. On SQLite every
write transaction starts with ``BEGIN IMMEDIATE`` (no lock upgrades, so no surprise SQLITE_BUSY);
on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ..core.errors import StoreUnavailable
from ..core.metrics import Metrics, NullMetrics
from ..core.triggers import (
    Backup, BackupState, Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState, Trigger, TriggerState,
)
from . import rows
from .schema import backups, deliveries, metadata, triggers, workers

log = logging.getLogger("webhook.store")

ACTIVE_SLOT = "sddc-manager"  # one SDDC Manager per service: one active backup at a time
_ACTIVE = (BackupState.SUBMITTING.value, BackupState.IN_PROGRESS.value)


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False,
                                                     "isolation_level": None})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class WriterQueue:
    """Lines up one host's SQLite writers in the kernel: ``flock`` on ``<database>.lock``.

    Without it, concurrent writers (gunicorn threads and processes, worker loops) meet in SQLite's
    busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries, so under load most of a
    request's time is spent asleep while the database is idle. The queue only orders writers;
    SQLite's own locks still guarantee correctness (and cover writers that do not use it).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    @contextmanager
    def hold(self) -> Iterator[None]:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked child must not share its parent's lock
            local.pid, local.fd, local.depth = os.getpid(), os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), 0
        if local.depth == 0:
            fcntl.flock(local.fd, fcntl.LOCK_EX)
        local.depth += 1
        try:
            yield
        finally:
            local.depth -= 1
            if local.depth == 0:
                fcntl.flock(local.fd, fcntl.LOCK_UN)


def writer_queue(engine: Engine) -> WriterQueue | None:
    """A queue for a file-backed SQLite database; None elsewhere (PostgreSQL queues writers itself)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return WriterQueue(str(Path(database).expanduser()) + ".lock")


class SqlStore:
    def __init__(self, engine: Engine, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.metrics: Metrics = metrics or NullMetrics()
        self.writers = writer_queue(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SqlStore:
        store = cls(make_engine(url, **kwargs))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        with self._tx(write=True) as conn:
            metadata.create_all(conn)

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Connection]:
        try:
            with (self.writers.hold() if write and self.writers else nullcontext()), \
                    self.engine.connect().execution_options(write=write) as conn, conn.begin():
                yield conn
        except IntegrityError:
            raise
        except (OperationalError, SQLAlchemyError) as exc:
            self.metrics.store_error()
            log.error("store error", extra={"event": "store.error", "error": type(exc).__name__})
            raise StoreUnavailable(f"The store is unavailable ({type(exc).__name__}).") from exc

    def _lock(self, query: Any) -> Any:
        return query if self.engine.dialect.name == "sqlite" else query.with_for_update(skip_locked=True)

    # ------------------------------------------------------------------ triggers
    def add_trigger(self, trigger: Trigger) -> tuple[Trigger, bool]:
        try:
            with self._tx(write=True) as conn:
                conn.execute(triggers.insert().values(**rows.trigger_row(trigger)))
            return trigger, True
        except IntegrityError:
            existing = self._by_dedupe(trigger.caller, trigger.dedupe_key)
            if existing is None:
                raise StoreUnavailable("The trigger conflicted with one that cannot be read back.") from None
            return existing, False

    def skip_trigger(self, trigger: Trigger) -> tuple[Trigger, bool]:
        trigger.state = TriggerState.SKIPPED
        trigger.completed_at = trigger.completed_at or trigger.received_at
        return self.add_trigger(trigger)

    def _by_dedupe(self, caller: str, key: str | None) -> Trigger | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(triggers).where(
                triggers.c.caller == caller, triggers.c.dedupe_key == key)).mappings().first()
        return rows.trigger_of(row) if row else None

    def get_trigger(self, trigger_id: str) -> Trigger | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(triggers).where(triggers.c.id == trigger_id)).mappings().first()
        return rows.trigger_of(row) if row else None

    def latest_trigger(self, source: str | None = None) -> Trigger | None:
        found = self.list_triggers(source=source, state=None, since=None, limit=1)
        return found[0] if found else None

    def list_triggers(
        self, *, source: str | None, state: TriggerState | None, since: datetime | None, limit: int,
        before_id: str | None = None,
    ) -> list[Trigger]:
        query = sa.select(triggers)
        if source:
            query = query.where(triggers.c.source == source)
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
        query = (sa.select(triggers)
                 .where(triggers.c.source == source, triggers.c.correlation_key == correlation_key,
                        triggers.c.received_at >= since.timestamp(),
                        triggers.c.state != TriggerState.SKIPPED.value)
                 .order_by(triggers.c.received_at.desc()).limit(1))
        with self._tx() as conn:
            row = conn.execute(query).mappings().first()
        return rows.trigger_of(row) if row else None

    def accepted_triggers(self, limit: int) -> list[Trigger]:
        query = (sa.select(triggers).where(triggers.c.state == TriggerState.ACCEPTED.value)
                 .order_by(triggers.c.received_at).limit(limit))
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query).mappings()]

    def triggers_of_backup(self, backup_id: str, state: TriggerState | None = None) -> list[Trigger]:
        query = sa.select(triggers).where(triggers.c.backup_id == backup_id)
        if state:
            query = query.where(triggers.c.state == state.value)
        with self._tx() as conn:
            return [rows.trigger_of(r) for r in conn.execute(query.order_by(triggers.c.received_at)).mappings()]

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
                self._insert_deliveries(conn, [d for d in started if d.trigger_id in ids])
            return ids

    def complete_triggers(
        self, trigger_ids: Sequence[str], backup_id: str, completed_at: datetime, note: str | None,
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
                self._insert_deliveries(conn, [d for d in deliveries_owed if d.trigger_id in ids])
            return ids

    def _eligible(self, conn: Connection, ids: Sequence[str], states: Sequence[TriggerState]) -> list[str]:
        query = sa.select(triggers.c.id).where(
            triggers.c.id.in_(list(ids)), triggers.c.state.in_([s.value for s in states]))
        return list(conn.execute(self._lock(query)).scalars())

    # ------------------------------------------------------------------ backups
    def get_backup(self, backup_id: str) -> Backup | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(backups).where(backups.c.id == backup_id)).mappings().first()
        return rows.backup_of(row) if row else None

    def find_backup_by_task(self, sddc_task_id: str) -> Backup | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(backups).where(backups.c.sddc_task_id == sddc_task_id)).mappings().first()
        return rows.backup_of(row) if row else None

    def active_backup(self) -> Backup | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(backups).where(backups.c.active_slot == ACTIVE_SLOT)).mappings().first()
        return rows.backup_of(row) if row else None

    def open_backup(self, backup: Backup) -> tuple[Backup, bool]:
        try:
            with self._tx(write=True) as conn:
                conn.execute(backups.insert().values(**rows.backup_row(backup), active_slot=ACTIVE_SLOT))
            return backup, True
        except IntegrityError:
            existing = self.active_backup()
            if existing is None:  # it ended between our insert and this read: open ours again
                return self.open_backup(backup)
            return existing, False

    def latest_successful_backup(self, spec_key: str, since: datetime) -> Backup | None:
        query = (sa.select(backups)
                 .where(backups.c.spec_key == spec_key, backups.c.state == BackupState.SUCCESSFUL.value,
                        backups.c.completed_at >= since.timestamp())
                 .order_by(backups.c.completed_at.desc()).limit(1))
        with self._tx() as conn:
            row = conn.execute(query).mappings().first()
        return rows.backup_of(row) if row else None

    def claim_backups(self, owner: str, now: datetime, lease_seconds: float, limit: int) -> list[Backup]:
        t = now.timestamp()
        with self._tx(write=True) as conn:
            query = (sa.select(backups.c.id)
                     .where(backups.c.state.in_(_ACTIVE),
                            sa.or_(backups.c.next_poll_at.is_(None), backups.c.next_poll_at <= t),
                            sa.or_(backups.c.lease_until.is_(None), backups.c.lease_until < t))
                     .limit(limit))
            ids = list(conn.execute(self._lock(query)).scalars())
            if not ids:
                return []
            conn.execute(backups.update().where(backups.c.id.in_(ids)).values(
                lease_owner=owner, lease_until=t + lease_seconds))
            return [rows.backup_of(r) for r in conn.execute(
                sa.select(backups).where(backups.c.id.in_(ids))).mappings()]

    def save_backup(self, backup: Backup, owner: str) -> bool:
        """Write the backup if ``owner`` still holds its lease; frees the active slot once it ended."""
        values = rows.backup_row(backup)
        values.pop("id")
        values["active_slot"] = ACTIVE_SLOT if backup.state.is_active else None
        with self._tx(write=True) as conn:
            result = conn.execute(backups.update().where(
                backups.c.id == backup.id, backups.c.lease_owner == owner).values(**values))
        if result.rowcount != 1:
            log.warning("lease lost", extra={"event": "backup.lease_lost", "backup_id": backup.id})
        return result.rowcount == 1

    def release_backup(self, backup_id: str, owner: str) -> None:
        with self._tx(write=True) as conn:
            conn.execute(backups.update().where(backups.c.id == backup_id, backups.c.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    # ------------------------------------------------------------------ deliveries
    def deliveries_of_trigger(self, trigger_id: str) -> list[Delivery]:
        query = sa.select(deliveries).where(deliveries.c.trigger_id == trigger_id).order_by(deliveries.c.created_at)
        with self._tx() as conn:
            return [rows.delivery_of(r) for r in conn.execute(query).mappings()]

    def add_deliveries(self, owed: Sequence[Delivery]) -> None:
        if owed:
            with self._tx(write=True) as conn:
                self._insert_deliveries(conn, owed)

    def _insert_deliveries(self, conn: Connection, owed: Sequence[Delivery]) -> None:
        if owed:
            conn.execute(deliveries.insert(), [rows.delivery_row(d) for d in owed])

    def claim_deliveries(self, owner: str, now: datetime, lease_seconds: float, limit: int) -> list[Delivery]:
        t = now.timestamp()
        with self._tx(write=True) as conn:
            query = (sa.select(deliveries.c.id)
                     .where(deliveries.c.state == DeliveryState.PENDING.value, deliveries.c.next_attempt_at <= t,
                            sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < t))
                     .order_by(deliveries.c.next_attempt_at).limit(limit))
            ids = list(conn.execute(self._lock(query)).scalars())
            if not ids:
                return []
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(
                lease_owner=owner, lease_until=t + lease_seconds))
            return [rows.delivery_of(r) for r in conn.execute(
                sa.select(deliveries).where(deliveries.c.id.in_(ids))).mappings()]

    def record_attempt(
        self, delivery_id: str, owner: str, attempt: DeliveryAttempt, state: DeliveryState,
        next_attempt_at: datetime | None, last_error: str | None,
    ) -> None:
        with self._tx(write=True) as conn:
            current = conn.execute(sa.select(deliveries.c.attempts).where(deliveries.c.id == delivery_id)).scalar()
            values: dict[str, Any] = {
                "attempts": [*(current or []), attempt.model_dump(mode="json")],
                "state": state.value, "last_error": last_error, "lease_owner": None, "lease_until": None,
                "next_attempt_at": next_attempt_at.timestamp() if next_attempt_at else None,
            }
            if state is DeliveryState.DELIVERED:
                values["delivered_at"] = attempt.at.timestamp()
            conn.execute(deliveries.update().where(
                deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner).values(**values))

    def cancel_delivery(self, delivery_id: str, owner: str, reason: str) -> None:
        with self._tx(write=True) as conn:
            conn.execute(deliveries.update().where(deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner)
                         .values(state=DeliveryState.CANCELLED.value, last_error=reason, next_attempt_at=None,
                                 lease_owner=None, lease_until=None))

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
        def without(target: Any) -> Any:
            options = {k: v for k, v in (target.get("options") or {}).items() if k not in keys}
            return {**target, "options": options}

        with self._tx(write=True) as conn:
            callback = conn.execute(sa.select(triggers.c.callback).where(triggers.c.id == trigger_id)).scalar()
            if callback:
                conn.execute(triggers.update().where(triggers.c.id == trigger_id).values(callback=without(callback)))
            for delivery_id, target in conn.execute(sa.select(deliveries.c.id, deliveries.c.target).where(
                    deliveries.c.trigger_id == trigger_id)).all():
                conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(target=without(target)))

    # ------------------------------------------------------------------ workers
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

    def next_due(self) -> datetime | None:
        with self._tx() as conn:
            if conn.execute(sa.select(triggers.c.id).where(
                    triggers.c.state == TriggerState.ACCEPTED.value).limit(1)).first():
                return rows.time_of(0.0)
            if conn.execute(sa.select(backups.c.id).where(
                    backups.c.state.in_(_ACTIVE), backups.c.next_poll_at.is_(None)).limit(1)).first():
                return rows.time_of(0.0)
            polls = conn.execute(sa.select(sa.func.min(backups.c.next_poll_at))
                                 .where(backups.c.state.in_(_ACTIVE))).scalar()
            sends = conn.execute(sa.select(sa.func.min(deliveries.c.next_attempt_at))
                                 .where(deliveries.c.state == DeliveryState.PENDING.value)).scalar()
        due = [v for v in (polls, sends) if v is not None]
        return rows.time_of(min(due)) if due else None

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
