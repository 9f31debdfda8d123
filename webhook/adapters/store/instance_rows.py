"""Per-instance reads for operators: each instance's latest backup and latest SUCCESSFUL one."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ...core.triggers import Backup, BackupState
from . import rows
from .base import StoreBase
from .schema import backups


class InstanceRows(StoreBase):
    def latest_backups(self, instances: Sequence[str]) -> dict[str, tuple[Backup | None, Backup | None]]:
        """instance → (its latest backup, its latest SUCCESSFUL backup); two indexed reads per instance."""
        found: dict[str, tuple[Backup | None, Backup | None]] = {}
        with self._tx() as conn:
            for name in instances:
                latest = conn.execute(sa.select(backups).where(backups.c.instance == name)
                                      .order_by(backups.c.created_at.desc()).limit(1)).mappings().first()
                good = conn.execute(sa.select(backups).where(
                    backups.c.instance == name, backups.c.state == BackupState.SUCCESSFUL.value)
                    .order_by(backups.c.completed_at.desc()).limit(1)).mappings().first()
                found[name] = (rows.backup_of(latest) if latest else None, rows.backup_of(good) if good else None)
        return found
