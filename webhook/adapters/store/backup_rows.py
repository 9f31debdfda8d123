"""Backups: the UNIQUE active slot, claims with leases, saves guarded by the lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...core.triggers import (
    Backup,
    BackupState,
)
from ...core.views import RunningBackup
from . import rows
from .base import ACTIVE, DEFAULT_INSTANCE, NOW, Claim, StoreBase, log
from .group_commit import GroupCommit
from .schema import backups

# The worker asks this on every pass that attaches triggers: a built statement saves it the building.
_ACTIVE = sa.select(backups).where(backups.c.active_slot == sa.bindparam("instance"))
_DUE_BACKUPS = Claim(backups, backups.c.state.in_(ACTIVE),
                     sa.or_(backups.c.next_poll_at.is_(None), backups.c.next_poll_at <= NOW))
# The backup a new request would ride (Slack's acknowledgement names it): only what the answer says.
_RUNNING = sa.select(backups.c.id, backups.c.sddc_task_id, backups.c.spec_key, backups.c.submitted_at).where(
    backups.c.active_slot == sa.bindparam("instance"), backups.c.state == BackupState.IN_PROGRESS.value,
    backups.c.sddc_task_id.is_not(None))


@dataclass(frozen=True)
class _LeasedWrite:
    """A change to one backup row, made only if ``owner`` still holds its lease."""

    backup_id: str
    owner: str
    values: dict[str, Any]


class BackupRows(StoreBase):
    """Backups: one active at a time per instance (active_slot holds the instance), worked on under a lease.

    Saves and releases from concurrent threads (a fleet's instance jobs: 50 instances submitting
    and polling at once) share a transaction (``group_commit``); each call still returns only after
    the commit that holds its write, so "the submit intent is stored before the POST" holds as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._leased_writes: GroupCommit[_LeasedWrite, bool] = GroupCommit(self._write_batch, self._writer_lock)

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

    def running_backup(self, instance: str) -> RunningBackup | None:
        """The instance's backup in progress at SDDC Manager: one indexed row, no model. The request path
        reads it at most every ``RUNNING_FRESH_SECONDS`` per instance (the service keeps the answer)."""
        with self._tx() as conn:
            row = conn.execute(_RUNNING, {"instance": instance}).first()
        if row is None:
            return None
        return RunningBackup(id=row[0], sddc_task_id=row[1], spec_key=row[2], submitted_at=rows.time_of(row[3]))

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
        return [rows.backup_of(r) for r in self._claim(_DUE_BACKUPS, owner, now.timestamp(), lease_seconds, limit)]

    def save_backup(self, backup: Backup, owner: str) -> bool:
        """Write the backup if ``owner`` still holds its lease; frees the active slot once it ended."""
        values = rows.backup_row(backup)
        values.pop("id")
        values["active_slot"] = backup.instance if backup.state.is_active else None
        saved = self._leased_writes.add(_LeasedWrite(backup.id, owner, values))
        if not saved:
            log.warning("lease lost", extra={"event": "backup.lease_lost", "backup_id": backup.id})
        return saved

    def release_backup(self, backup_id: str, owner: str) -> None:
        self._leased_writes.add(_LeasedWrite(backup_id, owner, {"lease_owner": None, "lease_until": None}))

    def _write_batch(self, batch: Sequence[_LeasedWrite]) -> list[bool]:
        """One transaction for the writes handed in together, in order; each: did its lease hold?"""
        with self._tx(write=True) as conn:
            return [conn.execute(backups.update().where(backups.c.id == write.backup_id,
                                                        backups.c.lease_owner == write.owner)
                                 .values(**write.values)).rowcount == 1 for write in batch]
