"""What a run task's callback PATCH says: the JSON:API ``task-results`` document.

``running`` when the backup starts; ``passed``/``failed`` when it ends (SDDC Manager's task id, the
duration, and for a failure SDDC Manager's own message and remediation); ``failed`` at the deadline.
Pure functions of the delivery, so the notifier stays plain I/O and the wording is testable.
"""

from __future__ import annotations

from typing import Any

from ..core.times import parse_iso

MAX_MESSAGE = 1000  # HCP Terraform shows it in the run page; keep it to a readable paragraph
MAX_ERRORS = 2


def task_result(event: str, body: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body for one delivery (``event`` is the DeliveryEvent value)."""
    status, message = status_and_message(event, body)
    attributes: dict[str, Any] = {"status": status, "message": message[:MAX_MESSAGE]}
    if options.get("status_url"):
        attributes["url"] = options["status_url"]
    return {"data": {"type": "task-results", "attributes": attributes}}


def status_and_message(event: str, body: dict[str, Any]) -> tuple[str, str]:
    decided = body.get("runTask")
    if isinstance(decided, dict):  # decided on the request path (a stage without backup, a speculative plan)
        return str(decided.get("status", "passed")), str(decided.get("message", ""))
    task = body.get("id") or "unknown"
    if event == "backup.started":
        if body.get("adopted"):
            return "running", f"A backup was already running in SDDC Manager (task {task}); waiting for it to end."
        return "running", f"SDDC Manager backup started (task {task}); waiting for it to end."
    if event == "backup.deadline":
        where = f" SDDC Manager task {task} is {body.get('status')}." if body.get("id") else ""
        return "failed", f"{body.get('note') or 'The deadline passed before the backup ended.'}{where}"
    status = body.get("status") or "UNKNOWN"
    took = _duration(body.get("startedAt"), body.get("completedAt"))
    if body.get("outcome") == "success":
        message = f"SDDC Manager backup {status} (task {task}){took}."
        if body.get("note"):
            message += f" {body['note']}"
        return "passed", message
    return "failed", f"SDDC Manager backup {status} (task {task}){took}. {_errors(body.get('errors'))}".strip()


def _errors(errors: Any) -> str:
    parts = []
    for error in (errors or [])[:MAX_ERRORS]:
        text = str(error.get("message") or error.get("errorCode") or "").strip()
        if error.get("remediationMessage"):
            text += f" Remediation: {error['remediationMessage']}"
        parts.append(text)
    return " | ".join(p for p in parts if p) or "SDDC Manager gave no error detail."


def _duration(started: str | None, completed: str | None) -> str:
    start, end = parse_iso(started), parse_iso(completed)
    if start is None or end is None:
        return ""
    try:
        seconds = (end - start).total_seconds()
    except TypeError:  # one naive, one aware
        return ""
    minutes, rest = divmod(max(0, int(round(seconds))), 60)
    return f" in {minutes} min {rest} s" if minutes else f" in {rest} s"
