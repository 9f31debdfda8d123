"""Backup task records and their `Task` / `BackupTask` JSON renderings.

A record fixes its duration and outcome at creation; its status is derived
from the clock on every read, so polling clients see a real progression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webhook.simulator.backup_config import SFTP_DIRECTORY, SFTP_PORT, SFTP_SERVER
from webhook.simulator.config import spell_status
from webhook.simulator.errors import error_body

TASK_TYPE = "SDDCMANAGER_BACKUP"
TASK_NAME = "SDDC Manager Backup"
_ARCHIVE_SHARE = 0.6  # fraction of the run spent building the archive


def timestamp(epoch: float) -> str:
    """Format like the appliance: yyyy-MM-ddTHH:mm:ss.fffZ (UTC)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class BackupRecord:
    """One backup the simulator ran; immutable once created."""

    id: str
    resource_id: str
    created: float
    duration: float
    outcome: str
    fqdn: str
    reference_token: str

    @property
    def ends(self) -> float:
        """Epoch seconds when the backup finishes."""
        return self.created + self.duration

    def is_running(self, now: float) -> bool:
        """Whether the backup is still in progress at `now`."""
        return now < self.ends

    def status(self, now: float) -> str:
        """Canonical status: IN_PROGRESS, SUCCESSFUL or FAILED."""
        return "IN_PROGRESS" if self.is_running(now) else self.outcome

    @property
    def file_name(self) -> str:
        """Archive name in the appliance's vcf-backup-<fqdn>-<date> pattern."""
        stamp = datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%d-%H-%M-%S")
        return f"vcf-backup-{self.fqdn.replace('.', '-')}-{stamp}.tar.gz"


def _resource(record: BackupRecord) -> dict[str, Any]:
    return {
        "resourceId": record.resource_id,
        "type": "SDDC_MANAGER",
        "fqdn": record.fqdn,
        "name": "sddc-manager",
    }


def render_backup_task(record: BackupRecord) -> dict[str, Any]:
    """The 202 answer to POST /v1/backups/tasks (status is always IN_PROGRESS)."""
    return {
        "id": record.id,
        "name": TASK_NAME,
        "status": "IN_PROGRESS",
        "resources": [_resource(record)],
    }


def _phase(start: float, end: float, now: float, final: str = "SUCCESSFUL") -> str:
    if now < start:
        return "PENDING"
    return "IN_PROGRESS" if now < end else final


def _step(kind: str, name: str, description: str, start: float, end: float,
          now: float, final: str, origin: float) -> dict[str, Any]:
    """A SubTask or Stage body; both share these fields.

    Like the appliance, every step is planned (created) together with the
    task, so `creationTimestamp` is the task's; `start` only drives status.
    """
    status = _phase(start, end, now, final)
    body: dict[str, Any] = {
        "name": name,
        "type": kind,
        "description": description,
        "status": status,
        "creationTimestamp": timestamp(origin),
    }
    if status in ("SUCCESSFUL", "FAILED"):
        body["completionTimestamp"] = timestamp(end)
    return body


def _transfer_error(record: BackupRecord) -> dict[str, Any]:
    return error_body(
        "SFTP_TRANSFER_FAILED",
        f"Unable to transfer {record.file_name} to {SFTP_SERVER}:{SFTP_PORT}: connection timed out",
        f"Check that {SFTP_SERVER} is reachable from SDDC Manager on port {SFTP_PORT} and that "
        f"the backup user may write to {SFTP_DIRECTORY}.",
        arguments=[SFTP_SERVER, str(SFTP_PORT)],
    ) | {"referenceToken": record.reference_token}


def task_errors(record: BackupRecord) -> list[dict[str, Any]]:
    """The top-level errors of a failed backup."""
    body = error_body(
        "SDDC_MANAGER_BACKUP_FAILED",
        f"Backup of SDDC Manager failed: unable to transfer backup file to SFTP server {SFTP_SERVER}",
        f"Verify the backup configuration: the SFTP server {SFTP_SERVER} must be reachable on "
        f"port {SFTP_PORT}, its SSH fingerprint must match and the backup user must be able to "
        f"write to {SFTP_DIRECTORY}. Then start the backup again.",
        arguments=[record.fqdn, SFTP_SERVER],
        context={"component": "SDDC_MANAGER_BACKUP"},
    )
    body["referenceToken"] = record.reference_token
    body["nestedErrors"] = [_transfer_error(record)]
    return [body]


def _sub_tasks(record: BackupRecord, now: float) -> list[dict[str, Any]]:
    start, end = record.created, record.ends
    split = start + record.duration * _ARCHIVE_SHARE
    middle = start + record.duration * _ARCHIVE_SHARE / 2
    archive = _step("SDDCMANAGER_BACKUP_ARCHIVE", "Create SDDC Manager backup archive",
                    f"Create an encrypted backup archive of SDDC Manager {record.fqdn}",
                    start, split, now, "SUCCESSFUL", start)
    archive["stages"] = [
        _step("BACKUP_COLLECT", "Collect SDDC Manager inventory and database",
              "Dump the SDDC Manager database and inventory", start, middle, now, "SUCCESSFUL", start),
        _step("BACKUP_ENCRYPT", "Create encrypted backup archive",
              f"Create and encrypt {record.file_name}", middle, split, now, "SUCCESSFUL", start),
    ]
    transfer = _step("SDDCMANAGER_BACKUP_TRANSFER", "Transfer backup archive to SFTP server",
                     f"Upload {record.file_name} to {SFTP_SERVER}:{SFTP_DIRECTORY}",
                     split, end, now, record.outcome, start)
    stage = _step("BACKUP_UPLOAD", "Upload backup file",
                  f"Upload the backup file to {SFTP_SERVER}", split, end, now, record.outcome, start)
    if stage["status"] == "FAILED":
        stage["errors"] = [_transfer_error(record)]
        transfer["errors"] = [_transfer_error(record)]
    transfer["stages"] = [stage]
    for sub in (archive, transfer):
        sub["resources"] = [_resource(record)]
    return [archive, transfer]


def render_task(record: BackupRecord, now: float, style: str) -> dict[str, Any]:
    """The `Task` view of a backup at `now`, status spelled per `style`."""
    canonical = record.status(now)
    task: dict[str, Any] = {
        "id": record.id,
        "name": TASK_NAME,
        "localizableDescriptionPack": {
            "component": "com.vmware.vcf.backuprestore",
            "messageKey": "sddcmanager.backup.task.description",
            "arguments": [record.fqdn],
            "message": f"Backup of SDDC Manager {record.fqdn}",
        },
        "type": TASK_TYPE,
        "status": spell_status(canonical, style),
        "creationTimestamp": timestamp(record.created),
        "subTasks": _sub_tasks(record, now),
        "resources": [_resource(record)],
        "resolutionStatus": "UNRESOLVED" if canonical == "FAILED" else "RESOLVED",
        "isCancellable": False,
        "isRetryable": False,
    }
    if canonical != "IN_PROGRESS":
        task["completionTimestamp"] = timestamp(record.ends)
    if canonical == "FAILED":
        task["errors"] = task_errors(record)
    return task
