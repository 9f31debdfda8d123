"""``vcfbackup_backup``: an SDDC Manager backup taken at create (or replace) and waited for.

create  POST /v1/triggers (idempotency key) and wait: SUCCESSFUL → state; anything else → an error
        diagnostic with SDDC Manager's message and remediation and the status URL, and no state, so
        Terraform changes nothing that ``depends_on`` it and the next apply tries again.
read    GET /v1/triggers/{id}; a trigger the service has pruned keeps its state (the backup happened).
update  state only (``reason``, ``timeout``, ``callback_url``, ``reuse_if_newer_than``): no backup.
delete  forgets; a backup is never deleted.
import  by trigger id.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..http import FINISHED
from . import checks
from .api import ServiceError
from .schema import DEFAULT_ELEMENTS, DEFAULT_TIMEOUT, backup_schema
from .util import report, seconds

if TYPE_CHECKING:
    from .provider import VcfBackupProvider

log = logging.getLogger("vcfbackup")  # stderr: Terraform keeps it in its log (TF_LOG)


class BackupResource:
    def __init__(self, provider: VcfBackupProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "backup"

    @classmethod
    def get_schema(cls) -> Any:
        return backup_schema()

    def validate(self, diags: Any, type_name: str, config: dict[str, Any]) -> None:
        report(diags, checks.backup(config))

    def plan(self, ctx: Any, current: dict[str, Any] | None, planned: dict[str, Any]) -> dict[str, Any]:
        return planned

    def create(self, ctx: Any, planned: dict[str, Any]) -> dict[str, Any] | None:
        api = self.provider.api(ctx.diagnostics)
        if api is None:
            return None
        elements = planned.get("elements") or list(DEFAULT_ELEMENTS)
        body: dict[str, Any] = {"elements": [{"resourceType": e} for e in elements]}
        for key, name in (("reason", "reason"), ("callbackUrl", "callback_url"),
                          ("reuseIfNewerThan", "reuse_if_newer_than"), ("target", "target")):
            if planned.get(name):
                body[key] = planned[name]
        timeout = planned.get("timeout") or DEFAULT_TIMEOUT
        deadline = time.monotonic() + seconds(timeout)
        try:
            view = api.start_backup(body, f"terraform-{uuid.uuid4()}", deadline=deadline)
            log.info("trigger %s accepted (%s): %s", view.get("id"), view.get("state"), view.get("statusUrl"))
            view = api.wait(view, deadline=deadline)
            log.info("trigger %s is %s: backup %s", view.get("id"), view.get("state"),
                     (view.get("backup") or {}).get("status"))
        except ServiceError as exc:
            ctx.diagnostics.add_error(exc.summary, exc.detail)
            return None
        failure = failure_of(view, timeout)
        if failure is not None:
            ctx.diagnostics.add_error(*failure)
            return None
        return state_of(view, planned | {"elements": elements, "timeout": timeout}) | {"target": planned.get("target")}

    def read(self, ctx: Any, current: dict[str, Any]) -> dict[str, Any] | None:
        api = self.provider.api(ctx.diagnostics)
        if api is None or not current.get("id"):
            return current
        try:
            view = api.trigger(current["id"])
        except ServiceError as exc:
            ctx.diagnostics.add_error(exc.summary, exc.detail)
            return current
        if view is None:  # pruned from the audit trail: the backup still happened
            log.info("trigger %s is no longer in the service's audit trail; keeping its state", current["id"])
            return current
        if failure_of(view, current.get("timeout") or DEFAULT_TIMEOUT) is not None:
            return current  # state is only ever written for a SUCCESSFUL backup; keep that one
        return state_of(view, current) | {"target": current.get("target")}

    def update(self, ctx: Any, current: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
        return planned  # only arguments that need no new backup get here; the rest force a replacement

    def delete(self, ctx: Any, current: dict[str, Any]) -> None:
        return None  # forget it: a backup is never deleted

    def import_(self, ctx: Any, id: str) -> dict[str, Any] | None:  # tf calls it with this name
        api = self.provider.api(ctx.diagnostics)
        if api is None:
            return None
        try:
            view = api.trigger(id)
        except ServiceError as exc:
            ctx.diagnostics.add_error(exc.summary, exc.detail)
            return None
        if view is None:
            ctx.diagnostics.add_error(f"no trigger {id!r}", "The service does not know this trigger id (or pruned "
                                      "it from its audit trail); import takes the `id` of a trigger, e.g. trg_...")
            return None
        failure = failure_of(view, DEFAULT_TIMEOUT)
        if view["state"] not in FINISHED or failure is not None:
            summary, detail = failure or (f"trigger {id} has not finished", f"Status: {view.get('statusUrl')}")
            ctx.diagnostics.add_error(f"cannot import: {summary}", detail)
            return None
        trigger = view.get("trigger") or {}
        elements = [e.get("resourceType") for e in trigger.get("elements") or []] or list(DEFAULT_ELEMENTS)
        arguments = {"triggers": None, "reason": trigger.get("reason"), "elements": elements,
                     "reuse_if_newer_than": None, "callback_url": trigger.get("callbackUrl"),
                     "timeout": DEFAULT_TIMEOUT}
        instance = trigger.get("instance")
        return state_of(view, arguments) | {"target": instance if instance not in (None, "default") else None}


def failure_of(view: dict[str, Any], timeout: str) -> tuple[str, str] | None:
    """(summary, detail) for a trigger that did not end in a SUCCESSFUL backup; None if it did."""
    backup = view.get("backup") or {}
    status = str(backup.get("status") or "")
    where = f"Trigger status: {view.get('statusUrl')}"
    if view["state"] not in FINISHED:
        return (f"the backup did not end within {timeout}",
                f"It is {status or view['state']} and goes on without Terraform. The next apply asks again: it "
                f"rides on this backup while it runs, or takes a new one once it has ended (unless "
                f"reuse_if_newer_than accepts this one). {where}")
    if backup.get("outcome") == "success":
        return None
    if not backup:
        note = (view.get("trigger") or {}).get("note") or "no backup was attached"
        return f"the service took no backup ({view['state']})", f"{note}. {where}"
    errors = backup.get("errors") or []
    message = "; ".join(str(e.get("message") or "") for e in errors if e.get("message")) or "no error detail"
    remediation = "; ".join(str(e["remediationMessage"]) for e in errors if e.get("remediationMessage"))
    summary = f"SDDC Manager backup {status or 'FAILED'}: {message}"
    detail = (f"Remediation: {remediation}\n" if remediation else "") + (
        f"SDDC Manager task: {backup.get('id') or '-'}. {where}")
    return summary, detail


def state_of(view: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """The resource's full state: the arguments as configured plus what the service reports."""
    backup = view.get("backup") or {}
    return {
        "triggers": arguments.get("triggers"),
        "reason": arguments.get("reason"),
        "elements": arguments.get("elements") or list(DEFAULT_ELEMENTS),
        "reuse_if_newer_than": arguments.get("reuse_if_newer_than"),
        "callback_url": arguments.get("callback_url"),
        "timeout": arguments.get("timeout") or DEFAULT_TIMEOUT,
        "id": view["id"],
        "backup_id": backup.get("backupId"),
        "sddc_task_id": backup.get("id"),
        "status": backup.get("status"),
        "started_at": backup.get("startedAt"),
        "completed_at": backup.get("completedAt"),
        "resources": [{"type": r.get("type"), "fqdn": r.get("fqdn"), "resource_id": r.get("resourceId")}
                      for r in backup.get("resources") or []],
    }


