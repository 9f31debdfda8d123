"""The simulated appliance's backup configuration (SFTP target, schedule).

Clients pre-check `isConfigured` before starting a backup, and failure
messages name the SFTP server, so both draw on the constants here.
"""

from __future__ import annotations

from typing import Any

SFTP_SERVER = "sftp.vcf.sim"
SFTP_PORT = 22
SFTP_USER = "svc-vcf-backup"
SFTP_DIRECTORY = "/backups/vcf"
SSH_FINGERPRINT = "SHA256:sptZq0mdjboC9AT8hZ8sz16c1JWIQxaFof/T407RnQg"
MASKED_PASSPHRASE = "**********"


def backup_location() -> dict[str, Any]:
    """The SFTP location, without its password (the appliance never returns it)."""
    return {
        "server": SFTP_SERVER,
        "port": SFTP_PORT,
        "protocol": "SFTP",
        "username": SFTP_USER,
        "directoryPath": SFTP_DIRECTORY,
        "sshFingerprint": SSH_FINGERPRINT,
    }


def backup_schedule() -> dict[str, Any]:
    """A weekly SDDC Manager schedule with the documented default retention."""
    return {
        "resourceType": "SDDC_MANAGER",
        "takeScheduledBackups": True,
        "frequency": "WEEKLY",
        "daysOfWeek": ["SUNDAY"],
        "hourOfDay": 2,
        "minuteOfHour": 0,
        "takeBackupOnStateChange": False,
        "retentionPolicy": {
            "numberOfMostRecentBackups": 10,
            "numberOfDaysOfHourlyBackups": 2,
            "numberOfDaysOfDailyBackups": 15,
        },
    }


def render_backup_configuration(configured: bool) -> dict[str, Any]:
    """Build a `BackupConfiguration`; unconfigured means no location at all."""
    if not configured:
        return {"isConfigured": False, "backupLocations": [], "backupSchedules": []}
    return {
        "encryption": {"passphrase": MASKED_PASSPHRASE},
        "backupLocations": [backup_location()],
        "backupSchedules": [backup_schedule()],
        "isConfigured": True,
    }
