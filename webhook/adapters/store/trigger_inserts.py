"""One transaction that inserts a batch of new triggers (and the deliveries they owe): Core or sqlite3.

The request path spends most of its store time here. On SQLite the statement is compiled once and
fed plain tuples over the pooled DBAPI connection: Core's per-statement work (connection events,
compile cache lookup, bind processing) cost more CPU than SQLite's own insert and commit. PostgreSQL
keeps Core, whose driver adaptation of the JSON columns it needs.
"""

from __future__ import annotations

import functools
import operator
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine

from ...core.intake_riders import ActiveBackup
from ...core.triggers import Trigger
from . import rows
from .schema import backups, triggers

Key = tuple[str, str]  # (caller, dedupe key)


class _Insert:
    """An INSERT of some columns of a table, compiled once, and how a row dict becomes its tuple.

    Columns a row leaves out are NULL, as Core makes them for columns without a default (the
    tables written here have none).
    """

    def __init__(self, table: sa.Table, columns: Sequence[str], engine: Engine) -> None:
        self.sql = str(table.insert().compile(dialect=engine.dialect, column_keys=list(columns)))
        self._ordered = operator.itemgetter(*columns)
        # JSON columns go in as text, as Core's JSON type stores them on SQLite (and reads them back).
        self._json = tuple(c.name for c in table.columns if isinstance(c.type, sa.JSON) and c.name in columns)

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        for name in self._json:
            if row[name] is not None:
                row[name] = rows.json_text(row[name])
        return self._ordered(row)  # type: ignore[no-any-return]


class BatchWriter(Protocol):
    def insert_fresh(self, new: Sequence[Trigger]) -> dict[Key, str]:
        """Insert each trigger whose (caller, dedupe key) is free, the first of a batch's twins included.

        Returns, for every key a trigger of ``new`` was not inserted under, the id of the trigger
        stored with it (an earlier one, or the twin inserted first); a trigger is new if its key is
        absent or maps to its own id.
        """
        ...

    def insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None: ...

    def active_backups(self) -> list[ActiveBackup]:
        """Every instance's active backup, read in the batch's transaction."""
        ...


def _keys(new: Sequence[Trigger]) -> list[Key]:
    return sorted({(t.caller, t.dedupe_key) for t in new if t.dedupe_key is not None})


class _LooksFirst:
    """``insert_fresh`` by reading the batch's keys first, then inserting the triggers whose key is free."""

    def taken(self, keys: Sequence[Key]) -> dict[Key, str]:
        """The id of the stored trigger for each key that is already taken."""
        raise NotImplementedError

    def insert_triggers(self, new: Sequence[Trigger]) -> None:
        raise NotImplementedError

    def insert_fresh(self, new: Sequence[Trigger]) -> dict[Key, str]:
        keys = _keys(new)
        taken = self.taken(keys) if keys else {}
        fresh = []
        for trigger in new:
            key = trigger.dedupe_key
            if key is None or (trigger.caller, key) not in taken:
                if key is not None:
                    taken[(trigger.caller, key)] = trigger.id  # a later twin is its duplicate
                fresh.append(trigger)
        self.insert_triggers(fresh)
        return taken


BatchTransaction = Callable[[], AbstractContextManager[BatchWriter]]


class CoreWriter(_LooksFirst):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def taken(self, keys: Sequence[Key]) -> dict[Key, str]:
        query = sa.select(triggers.c.caller, triggers.c.dedupe_key, triggers.c.id).where(
            sa.tuple_(triggers.c.caller, triggers.c.dedupe_key).in_(list(keys)))
        return {(caller, key): id_ for caller, key, id_ in self.conn.execute(query)}

    def insert_fresh(self, new: Sequence[Trigger]) -> dict[Key, str]:
        if self.conn.dialect.name != "postgresql" or all(t.dedupe_key is None for t in new):
            return super().insert_fresh(new)  # (no key: nothing can be taken)
        # One statement, no read first: the keys already taken (or taken by a twin earlier in the
        # batch, or by another replica meanwhile) are skipped, and only their owners are read after.
        # The read before every batch was as much of an Alertmanager notification's CPU as its insert.
        # (A batch without keys keeps the plain executemany: its one short statement is the cheaper.)
        inserted = set(self.conn.execute(_INSERT_FRESH, [rows.trigger_row(t) for t in new]).scalars())
        skipped = _keys([t for t in new if t.id not in inserted])
        return self.taken(skipped) if skipped else {}

    def insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:  # (Core would take an empty list for one row of defaults)
            self.conn.execute(table.insert(), list(rows))

    def insert_triggers(self, new: Sequence[Trigger]) -> None:
        self.insert(triggers, [rows.trigger_row(t) for t in new])

    def active_backups(self) -> list[ActiveBackup]:
        return [ActiveBackup(*row) for row in self.conn.execute(_ACTIVE)]


_ACTIVE = sa.select(backups.c.id, backups.c.instance, backups.c.spec_key).where(
    backups.c.active_slot.is_not(None))
_ACTIVE_SQLITE = str(_ACTIVE.compile(dialect=sqlite_dialect.dialect()))  # the same read, as sqlite3 text
_INSERT_FRESH = (postgresql.insert(triggers).on_conflict_do_nothing(index_elements=["caller", "dedupe_key"])
                 .returning(triggers.c.id))


class SqliteWriter(_LooksFirst):
    _TAKEN = "SELECT id FROM triggers WHERE caller = ? AND dedupe_key = ?"

    def __init__(self, cursor: sqlite3.Cursor, insert_of: Callable[[sa.Table, Sequence[str]], _Insert]) -> None:
        self.cursor = cursor
        self.insert_of = insert_of

    def taken(self, keys: Sequence[Key]) -> dict[Key, str]:
        found = {}
        for key in keys:
            row = self.cursor.execute(self._TAKEN, key).fetchone()
            if row is not None:
                found[key] = row[0]
        return found

    def insert(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = self.insert_of(table, tuple(rows[0]))
        self.cursor.executemany(insert.sql, [insert.values(row) for row in rows])

    def active_backups(self) -> list[ActiveBackup]:
        return [ActiveBackup(*row) for row in self.cursor.execute(_ACTIVE_SQLITE).fetchall()]

    def insert_triggers(self, new: Sequence[Trigger]) -> None:
        if new:
            insert = self.insert_of(triggers, rows.TRIGGER_COLUMNS)
            self.cursor.executemany(insert.sql, [rows.trigger_values(t) for t in new])


def sqlite_transaction(engine: Engine) -> BatchTransaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` on a pooled connection kept for these batches; sqlite3's errors pass through.

    Only the group commit's leader runs this, one at a time, so one connection serves every batch:
    the pool's checkout and check-in (with its reset) cost more CPU than the batch's own statements.
    A batch that fails gives its connection back to the pool and the next one takes a fresh one;
    a forked child never uses its parent's.
    """

    @functools.cache
    def insert_of(table: sa.Table, columns: tuple[str, ...]) -> _Insert:
        return _Insert(table, columns, engine)

    held: dict[str, Any] = {}  # "pid", "connection", "cursor"

    @contextmanager
    def transaction() -> Iterator[BatchWriter]:
        if held.get("pid") != os.getpid():
            held.clear()
            connection = engine.raw_connection()
            held.update(pid=os.getpid(), connection=connection, cursor=connection.cursor())
        connection, cursor = held["connection"], held["cursor"]
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteWriter(cast(sqlite3.Cursor, cursor), insert_of)
                cursor.execute("COMMIT")
            except BaseException:
                connection.rollback()
                raise
        except BaseException:
            held.clear()
            connection.close()  # back to the pool, which resets it
            raise

    return transaction
