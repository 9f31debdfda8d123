"""Engines: SQLite in WAL mode with ``BEGIN IMMEDIATE`` writes and a kernel queue of writers."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class SqliteMemory:
    """Caps on what SQLite keeps in a process's memory; the worker loop's process sets them.

    Each pooled connection keeps up to ``statements`` prepared statements (Python's default is 128),
    and SQLAlchemy renders an ``IN`` list of every length as its own statement; ``heap_limit`` (bytes,
    process-wide) makes SQLite reuse page-cache pages instead of growing each connection's cache to
    its 2 MB (evicted pages are read again from the OS's file cache). During the 10,000 storm the
    worker's SQLite held up to 9.4 MB, about half each; with both caps 2.1 MB.
    """

    statements: int = 32
    heap_limit: int = 2 * 1024 * 1024


def _sqlite_directory(url: sa.URL) -> Path | None:
    """The directory a SQLite file will live in, to make before the first connect.

    With ``uri=true`` the database is a ``file:`` URI that SQLite itself parses; its directory is the
    operator's to make (taking it as a plain path made a ``file:`` directory under the working one).
    """
    path = url.database
    if not path or path == ":memory:" or str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return Path(path).expanduser().parent


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", sqlite_memory: SqliteMemory | None = None) -> Engine:
    if url.startswith("sqlite"):
        directory = _sqlite_directory(sa.engine.make_url(url))
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        capped = {"cached_statements": sqlite_memory.statements} if sqlite_memory else {}
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False,
                                                     "isolation_level": None, **capped})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA busy_timeout=30000")
            if sqlite_memory:
                cur.execute(f"PRAGMA soft_heap_limit={int(sqlite_memory.heap_limit)}")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = sa.create_engine(url)
    ping_when_idle(engine)
    return engine


# A pooled connection checked in this recently is taken as alive; one idle for longer is pinged first.
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """``pool_pre_ping`` for connections that sat idle in the pool longer than ``idle_seconds`` only.

    pre_ping sends ``SELECT 1`` at every checkout, and the request path checks out a connection per
    transaction: on PostgreSQL that was a round trip more per read and per group commit (an
    Alertmanager notification made three). A connection last used within the second is alive unless
    the server went away in that second; its statement then fails, SQLAlchemy discards the pool's
    connections, and the caller answers 503 as for any store error. A ping that fails discards that
    connection and the pool takes another (SQLAlchemy's documented pessimistic recipe).
    """

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_from"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_from = record.info.get("idle_from")
        if idle_from is not None and time.monotonic() - idle_from <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError("the pooled connection did not answer a ping") from exc


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
