"""The result document: a BackupTask (seed schema) plus who asked and when it ran.

The same document is the callback body, the ``backup`` part of ``GET /v1/triggers/{id}`` and the
output of ``vcf-backup-webhook trigger``, so every way of asking sees one shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import BackupTask
from .triggers import Backup, BackupState, Trigger


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def backup_task(backup: Backup) -> BackupTask:
    """The seed's BackupTask for a backup; ``status`` is the service's normalised state."""
    return BackupTask(
        id=backup.sddc_task_id,
        name=backup.name,
        status=backup.state.value,
        resources=backup.resources or None,
        errors=backup.errors or None,
    )


def outcome(backup: Backup) -> str:
    if backup.state.is_active:
        return "pending"
    return "success" if backup.state is BackupState.SUCCESSFUL else "failure"


def trigger_summary(trigger: Trigger) -> dict[str, Any]:
    return {
        "id": trigger.id,
        "source": trigger.source,
        "caller": trigger.caller,
        "reason": trigger.reason,
        "receivedAt": iso(trigger.received_at),
        "state": trigger.state.value,
        "note": trigger.note,
    }


def result_document(trigger: Trigger, backup: Backup, note: str | None = None) -> dict[str, Any]:
    body = backup_task(backup).to_json_dict()
    body.update(
        {
            "outcome": outcome(backup),
            "backupId": backup.id,
            "adopted": backup.adopted,
            "startedAt": iso(backup.submitted_at or backup.created_at),
            "completedAt": iso(backup.completed_at),
            "trigger": trigger_summary(trigger),
        }
    )
    if note or trigger.note:
        body["note"] = note or trigger.note
    return body
