"""``GET /v1/backups/latest``: the latest SUCCESSFUL backup, for freshness checks (read-only).

Terraform's ``http`` and ``external`` data sources run at every plan and refresh, so this path
only reads the store: it never starts a backup nor calls SDDC Manager. A backup counts whoever
asked for it (or adopted: one SDDC Manager ran on its own); a failed one is not a backup to
restore from, so it never answers here.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import Field

from ..core.errors import InvalidRequest, NotFound
from ..core.models import BackupResource, BackupSpec, BackupTask
from ..core.results import iso
from ..core.validation import KNOWN_RESOURCE_TYPES
from ..sources.auth import caller_of_token
from . import openapi
from .context import web

bp = Blueprint("backups", __name__, url_prefix="/v1/backups")

class LatestBackup(BackupTask):
    """The latest SUCCESSFUL backup; ``id`` is SDDC Manager's task id."""

    outcome: Literal["success"] = "success"
    backupId: str
    adopted: bool = Field(description="True if SDDC Manager ran it on its own and the service rode on it")
    startedAt: str | None = None
    completedAt: str
    ageSeconds: int = Field(description="Seconds since it completed, by the service's clock")


def spec_of(elements: str | None) -> BackupSpec | None:
    """``?elements=SDDC_MANAGER,...``: only backups of exactly these resource types (None: the default spec)."""
    names = [e.strip() for e in (elements or "").split(",") if e.strip()]
    unknown = sorted(set(names) - KNOWN_RESOURCE_TYPES)
    if unknown:
        raise InvalidRequest(f"elements: resourceType {unknown[0]!r} is not supported.",
                             remediation=f"Use a comma-separated list of {', '.join(sorted(KNOWN_RESOURCE_TYPES))}.")
    return BackupSpec(elements=[BackupResource(resourceType=n) for n in names]) if names else None


@bp.get("/latest")
def latest_backup() -> ResponseReturnValue:
    caller_of_token(request.headers.get("Authorization"), web().api_tokens)
    service = web().service
    backup = service.latest_backup(spec_of(request.args.get("elements")))
    if backup is None or backup.completed_at is None:
        raise NotFound("This service has recorded no SUCCESSFUL backup yet.",
                       remediation="Take one first (POST /v1/triggers, or `vcf-backup-webhook trigger --wait`).")
    latest = LatestBackup(
        id=backup.sddc_task_id, name=backup.name, status=backup.state.value, resources=backup.resources or None,
        backupId=backup.id, adopted=backup.adopted, startedAt=iso(backup.submitted_at or backup.created_at),
        completedAt=iso(backup.completed_at) or "",
        ageSeconds=max(0, int((service.clock.now() - backup.completed_at).total_seconds())),
    )
    return jsonify(latest.model_dump(mode="json", exclude_none=True))


OPENAPI = openapi.Described({
    "/v1/backups/latest": {
        "get": openapi.operation(
            "The latest SUCCESSFUL backup and its age (read-only; for Terraform freshness checks)",
            {"200": openapi.json_body(LatestBackup), **openapi.errors(400, 401, 404)}, security=openapi.BEARER,
            parameters=[{"name": "elements", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "Comma-separated resource types; only backups of exactly these (default "
                                        "SDDC_MANAGER)"}]),
    },
}, models=(LatestBackup,))
