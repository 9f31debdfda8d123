"""Transactions, the claim-with-lease helper, schema creation: what every part of the store shares."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from ...core.errors import InvalidRequest, StoreUnavailable
from ...core.metrics import Metrics, NullMetrics
from ...core.triggers import BackupState
from .engine import make_engine, writer_queue
from .migrations.head import settle_without_alembic

log = logging.getLogger("webhook.store")

ACTIVE_SLOT = "sddc-manager"  # before instances (migration 0002): the one slot of the one SDDC Manager
DEFAULT_INSTANCE = "default"  # the instance the single-instance settings define
ACTIVE = (BackupState.SUBMITTING.value, BackupState.IN_PROGRESS.value)
SCHEMA_LOCK = 0x7663_6662_6B70  # "vcfbkp": the advisory lock schema creation holds on PostgreSQL


NOW = sa.bindparam("now", type_=sa.Float)  # a claim's moment, as epoch seconds


class Claim:
    """The statements that find a table's due, unleased rows, built once (the worker asks every pass,
    and building them cost more CPU than the database takes to answer). ``due`` may use ``NOW``."""

    def __init__(self, table: sa.Table, *due: Any, order_by: Any = None) -> None:
        self.table = table
        where = (*due, sa.or_(table.c.lease_until.is_(None), table.c.lease_until < NOW))
        self.probe = sa.select(table.c.id).where(*where).limit(1)
        self.due = sa.select(table.c.id).where(*where).order_by(order_by).limit(
            sa.bindparam("limit", type_=sa.Integer))


class StoreBase:
    def __init__(self, engine: Engine, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.metrics: Metrics = metrics or NullMetrics()
        self.writers = writer_queue(engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Self:
        store = cls(make_engine(url, **kwargs))
        store.create_schema()
        return store

    def create_schema(self) -> None:
        """Create or upgrade the schema (Alembic); nodes that start together on one PostgreSQL take turns."""
        with self._tx(write=True) as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            if not settle_without_alembic(conn):
                from .migrations.migrate import migrate  # Alembic only when there is work for it

                migrate(conn)

    def _writer_lock(self) -> AbstractContextManager[object]:
        """This host's queue of SQLite writers (re-entrant per thread); nothing to hold elsewhere."""
        return self.writers.hold() if self.writers else nullcontext()

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Connection]:
        with self._store_errors(), (self._writer_lock() if write else nullcontext()), \
                self.engine.connect().execution_options(write=write) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read_once(self) -> Iterator[Connection]:
        """A connection for a single read, in autocommit: no BEGIN and COMMIT around it, which on
        PostgreSQL were two of the three round trips of a lookup on the request path."""
        with self._store_errors(), self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """The database's errors as the service's: a value it refused is the caller's 400, the rest a 503."""
        try:
            yield
        except IntegrityError:
            raise
        except DataError as exc:  # this request's values, not the database: the caller can fix it
            raise InvalidRequest(f"The store cannot keep a value of this request ({type(exc.orig).__name__}); "
                                 "check the text fields for control characters.") from exc
        except (OperationalError, SQLAlchemyError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        """Count and log a failed store call; the error to raise in its place."""
        self.metrics.store_error()
        log.error("store error", extra={"event": "store.error", "error": type(exc).__name__})
        return StoreUnavailable(f"The store is unavailable ({type(exc).__name__}).")

    def _lock(self, query: Any) -> Any:
        return query if self.engine.dialect.name == "sqlite" else query.with_for_update(skip_locked=True)

    def _claim(self, claim: Claim, owner: str, now: float, lease_seconds: float, limit: int) -> list[Any]:
        """Lease the due rows of ``claim.table`` to ``owner`` and return them (as row mappings).

        A read-only probe comes first: an idle worker then never takes the write lock, which the
        request path needs for every trigger it acknowledges.
        """
        table = claim.table
        with self._tx() as conn:
            if conn.execute(claim.probe, {"now": now}).first() is None:
                return []
        with self._tx(write=True) as conn:
            ids = list(conn.execute(self._lock(claim.due), {"now": now, "limit": limit}).scalars())
            if not ids:
                return []
            conn.execute(table.update().where(table.c.id.in_(ids)).values(
                lease_owner=owner, lease_until=now + lease_seconds))
            return list(conn.execute(sa.select(table).where(table.c.id.in_(ids))).mappings())
