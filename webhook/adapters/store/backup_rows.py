"""Backups: the UNIQUE active slot, claims with leases, saves guarded by the lease."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...core.triggers import (
    Backup,
    BackupState,
)
from . import rows
from .base import ACTIVE, DEFAULT_INSTANCE, StoreBase, log
from .schema import backups

# The worker asks this on every pass that attaches triggers: a built statement saves it the building.
_ACTIVE = sa.select(backups).where(backups.c.active_slot == sa.bindparam("instance"))


class BackupRows(StoreBase):
    """Backups: one active at a time per instance (active_slot holds the instance), worked on under a lease."""

    def get_backup(self, backup_id: str) -> Backup | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(backups).where(backups.c.id == backup_id)).mappings().first()
        return rows.backup_of(row) if row else None

    def backups_by_id(self, backup_ids: Sequence[str]) -> dict[str, Backup]:
        """Many backups in one query (an audit page shows each trigger's backup)."""
        if not backup_ids:
            return {}
        with self._tx() as conn:
            found = conn.execute(sa.select(backups).where(backups.c.id.in_(set(backup_ids)))).mappings().all()
        return {row["id"]: rows.backup_of(row) for row in found}

    def find_backup_by_task(self, sddc_task_id: str, instance: str = DEFAULT_INSTANCE) -> Backup | None:
        """The backup of SDDC Manager ``instance``'s task (task ids are one instance's own)."""
        query = sa.select(backups).where(backups.c.sddc_task_id == sddc_task_id, backups.c.instance == instance)
        with self._tx() as conn:
            row = conn.execute(query).mappings().first()
        return rows.backup_of(row) if row else None

    def active_backup(self, instance: str = DEFAULT_INSTANCE) -> Backup | None:
        with self._tx() as conn:
            row = conn.execute(_ACTIVE, {"instance": instance}).mappings().first()
        return rows.backup_of(row) if row else None

    def open_backup(self, backup: Backup) -> tuple[Backup, bool]:
        try:
            with self._tx(write=True) as conn:
                conn.execute(backups.insert().values(**rows.backup_row(backup), active_slot=backup.instance))
            return backup, True
        except IntegrityError:
            existing = self.active_backup(backup.instance)
            if existing is None:  # it ended between our insert and this read: open ours again
                return self.open_backup(backup)
            return existing, False

    def latest_successful_backup(self, spec_key: str, since: datetime,
                                 instance: str = DEFAULT_INSTANCE) -> Backup | None:
        query = (sa.select(backups)
                 .where(backups.c.instance == instance, backups.c.spec_key == spec_key,
                        backups.c.state == BackupState.SUCCESSFUL.value, backups.c.completed_at >= since.timestamp())
                 .order_by(backups.c.completed_at.desc()).limit(1))
        with self._tx() as conn:
            row = conn.execute(query).mappings().first()
        return rows.backup_of(row) if row else None

    def claim_backups(self, owner: str, now: datetime, lease_seconds: float, limit: int) -> list[Backup]:
        t = now.timestamp()
        due = (backups.c.state.in_(ACTIVE), sa.or_(backups.c.next_poll_at.is_(None), backups.c.next_poll_at <= t))
        return [rows.backup_of(r) for r in self._claim(backups, due, owner, t, lease_seconds, limit)]

    def save_backup(self, backup: Backup, owner: str) -> bool:
        """Write the backup if ``owner`` still holds its lease; frees the active slot once it ended."""
        values = rows.backup_row(backup)
        values.pop("id")
        values["active_slot"] = backup.instance if backup.state.is_active else None
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
