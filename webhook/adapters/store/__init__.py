"""The store: SQLAlchemy Core over SQLite (WAL, the embedded default) or PostgreSQL (by URL).

Every public method is one transaction. Conditional UPDATEs and the leases they set are the only
locks, so web processes, worker loops and replicas need no memory of each other. On SQLite every
write transaction starts with ``BEGIN IMMEDIATE`` (no lock upgrades, so no surprise SQLITE_BUSY);
on PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from .backup_rows import BackupRows
from .base import ACTIVE_SLOT, DEFAULT_INSTANCE, StoreBase
from .delivery_rows import DeliveryRows
from .engine import SqliteMemory, WriterQueue, make_engine, writer_queue
from .fanout_rows import FanoutRows, FleetAttachRows
from .instance_rows import InstanceRows
from .rider_rows import RiderRows
from .status_rows import StatusRows
from .trigger_rows import TriggerRows
from .worker_rows import WorkerRows

__all__ = ["ACTIVE_SLOT", "DEFAULT_INSTANCE", "SqlStore", "SqliteMemory", "WriterQueue", "make_engine", "writer_queue"]


class SqlStore(TriggerRows, RiderRows, BackupRows, DeliveryRows, WorkerRows, StatusRows, FanoutRows, FleetAttachRows,
               InstanceRows, StoreBase):
    """The Store port over SQLAlchemy Core; each part lives in its own module."""
