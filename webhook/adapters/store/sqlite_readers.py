"""Connections kept for the request path's one-row SQLite lookups (the Alertmanager cooldown read).

Checking a connection out of SQLAlchemy's pool and back in (fairy, record, queue with its condition
variable, the reset's rollback) costs more CPU than SQLite's indexed read itself, and with 16 request
threads on one core the queue's lock hand-offs wake other threads. These connections leave the pool
once (``detach``, with the engine's connect-time PRAGMAs already set) and wait in a plain list:
``pop`` and ``append`` are atomic, so borrowing one takes no lock. At most ``keep`` wait idle (the
default, 16, is gunicorn's threads); a borrower that finds none opens one. A forked child never
uses its parent's.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy.engine import Engine


class SqliteReaders:
    def __init__(self, engine: Engine, keep: int = 16) -> None:  # the request threads of a web process
        self._engine = engine
        self._keep = keep
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    def _open(self) -> sqlite3.Connection:
        fairy: Any = self._engine.raw_connection()
        fairy.detach()  # ours now: the pool forgets it (and its slot is free again)
        return cast(sqlite3.Connection, fairy.dbapi_connection)

    @contextmanager
    def borrow(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode for reads that end inside the block (fetch what you need)."""
        if self._pid != os.getpid():
            self._idle, self._pid = [], os.getpid()
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self._open()
        try:
            yield connection
        except BaseException:
            connection.close()  # in an unknown state: not kept
            raise
        if len(self._idle) < self._keep:
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
