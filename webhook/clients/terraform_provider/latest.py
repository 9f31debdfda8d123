"""``vcfbackup_latest_backup``: the latest SUCCESSFUL backup, read at plan time, for freshness checks.

It only reads (``GET /v1/backups/latest``): Terraform reads data sources at every plan and refresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import checks
from .api import ServiceError
from .schema import latest_backup_schema
from .util import report

if TYPE_CHECKING:
    from .provider import VcfBackupProvider


class LatestBackupDataSource:
    def __init__(self, provider: VcfBackupProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "latest_backup"

    @classmethod
    def get_schema(cls) -> Any:
        return latest_backup_schema()

    def validate(self, diags: Any, type_name: str, config: dict[str, Any]) -> None:
        report(diags, checks.latest_backup(config))

    def read(self, ctx: Any, config: dict[str, Any]) -> dict[str, Any] | None:
        api = self.provider.api(ctx.diagnostics)
        if api is None:
            return None
        try:
            latest = api.latest(config.get("elements"))
        except ServiceError as exc:
            ctx.diagnostics.add_error(exc.summary, exc.detail)
            return None
        state: dict[str, Any] = {"elements": config.get("elements"), "status": "NONE", "backup_id": None,
                                 "sddc_task_id": None, "started_at": None, "completed_at": None,
                                 "age_seconds": None}
        if latest is not None:
            state |= {"status": latest.get("status"), "backup_id": latest.get("backupId"),
                      "sddc_task_id": latest.get("id"), "started_at": latest.get("startedAt"),
                      "completed_at": latest.get("completedAt"), "age_seconds": latest.get("ageSeconds")}
        return state
