"""What ``GET /v1/instances`` and Slack's ``status`` show per instance: its latest backup and freshness."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .fleet import Fleet
from .ports import Store
from .results import iso
from .triggers import Backup


class BackupBrief(BaseModel):
    backupId: str
    status: str = Field(description="IN_PROGRESS, SUCCESSFUL, FAILED, ... (the service's state)")
    sddcTaskId: str | None = None
    startedAt: str | None = None
    completedAt: str | None = None
    ageSeconds: int | None = Field(None, description="Seconds since it completed (None while it runs)")


class InstanceStatus(BaseModel):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    default: bool = Field(False, description="A trigger naming no target goes here")
    lastBackup: BackupBrief | None = Field(None, description="The latest backup, whatever its state")
    lastSuccessful: BackupBrief | None = Field(None, description="The latest SUCCESSFUL backup (for freshness)")


class InstanceList(BaseModel):
    items: list[InstanceStatus]


def brief(backup: Backup | None, now: datetime) -> BackupBrief | None:
    if backup is None:
        return None
    age = int((now - backup.completed_at).total_seconds()) if backup.completed_at else None
    return BackupBrief(backupId=backup.id, status=backup.state.value, sddcTaskId=backup.sddc_task_id,
                       startedAt=iso(backup.submitted_at or backup.created_at), completedAt=iso(backup.completed_at),
                       ageSeconds=max(0, age) if age is not None else None)


def instance_statuses(fleet: Fleet, store: Store, now: datetime) -> list[InstanceStatus]:
    latest = store.latest_backups(fleet.names)
    return [InstanceStatus(name=instance.name, labels=dict(instance.labels), default=instance.name == fleet.default,
                           lastBackup=brief(latest[instance.name][0], now),
                           lastSuccessful=brief(latest[instance.name][1], now))
            for instance in fleet.instances.values()]
