"""Slack messages for ``/vcf-backup``: Block Kit plus a plain ``text`` fallback, as pure functions.

Every builder returns the JSON body Slack takes (an ack, or a ``response_url`` post) without
``response_type`` where the caller decides it. Text from people and from SDDC Manager is
escaped (``&``, ``<``, ``>``) and clipped to Slack's block limits, so no message is rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core.instances import InstanceStatus
from ..core.times import parse_iso
from ..core.views import RunningBackup, TriggerView

Message = dict[str, Any]

_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000
_HEADER_LIMIT = 150
_MAX_ERRORS = 3
_ERROR_TEXT_LIMIT = 600


def escape(text: object) -> str:
    """Slack's mrkdwn control characters, escaped the way Slack documents."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, _HEADER_LIMIT), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SECTION_LIMIT)}}


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [
        {"type": "mrkdwn", "text": _clip(f"*{name}*\n{value}", _FIELD_LIMIT)} for name, value in pairs[:10]]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text, _SECTION_LIMIT)}]}


def ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> Message:
    message: Message = {"response_type": "ephemeral", "text": text}
    if blocks:
        message["blocks"] = blocks
    return message


# ------------------------------------------------------------------ acks (the HTTP response)
def requested(trigger_id: str, *, created: bool, command: str, riding: RunningBackup | None = None,
              now: datetime | None = None) -> Message:
    """The ack: which trigger, and how to ask about it; and the backup already running it joins, if any
    (then no separate "backup started" post follows)."""
    how = f"Ask `{escape(command)} status {trigger_id}` for its state; the result will be posted here."
    if created and riding is not None:
        since = ""
        if riding.submitted_at is not None and now is not None:
            since = f", started {duration((now - riding.submitted_at).total_seconds())} ago"
        text = (f":hourglass_flowing_sand: Backup requested (trigger `{trigger_id}`): it joins the backup "
                f"already running (SDDC Manager task `{escape(riding.sddc_task_id)}`{since}). {how}")
    elif created:
        text = f":inbox_tray: Backup requested (trigger `{trigger_id}`). {how}"
    else:
        text = f":repeat: Already requested as trigger `{trigger_id}`; no second backup was started. {how}"
    return ephemeral(text, [_section(text)])


def retry_ignored() -> Message:
    return ephemeral("This was Slack resending an earlier request; it started nothing new.")


def refused(user_id: str) -> Message:
    text = (f"Sorry <@{escape(user_id)}>, you are not allowed to start or inspect VCF backups from here. "
            "Nothing was started. Ask the operators of the backup service to add your team, channel or user.")
    return ephemeral(text)


def problem(text: str) -> Message:
    """A request Slack sent but this service cannot act on; nothing was started."""
    message = f":warning: {escape(text)} Nothing was started."
    return ephemeral(message, [_section(message)])


def help_text(command: str, unknown: str | None = None) -> Message:
    name = escape(command or "/vcf-backup")
    lines = [
        f"*{name}* takes a VMware Cloud Foundation SDDC Manager backup.",
        f"• `{name}` or `{name} backup [reason]`: start a backup (free text is taken as the reason).",
        f"• `{name} status [trigger-id]`: the state of the latest request, or of the one given.",
        f"• `{name} help`: this text.",
        "A backup that is already running is joined rather than started twice; the result is posted here.",
    ]
    if unknown:
        lines.insert(0, f"I don't know the subcommand `{escape(unknown)}`.")
    text = "\n".join(lines)
    return ephemeral(text, [_section(text)])


# ------------------------------------------------------------------ status
def status(view: TriggerView, now: datetime) -> Message:
    """A trigger's state, its backup's SDDC task, elapsed time and errors."""
    trigger, doc = view.trigger, view.backup or {}
    state = trigger.state.value + (f" · backup {doc['status']}" if doc.get("status") else "")
    pairs = [("State", state), ("SDDC task", f"`{escape(doc.get('id') or '—')}`"),
             ("Elapsed", _elapsed(doc, trigger.received_at, now)),
             ("Requested by", _requester(trigger.caller, trigger.context))]
    if trigger.reason:
        pairs.append(("Reason", escape(trigger.reason)))
    blocks = [_section(f"Status of trigger `{trigger.id}` (from {escape(trigger.source)})"), _fields(pairs)]
    blocks += _error_blocks(doc.get("errors") or [])
    if trigger.note:
        blocks.append(_context(escape(trigger.note)))
    text = escape(f"Trigger {trigger.id}: {state}, SDDC task {doc.get('id') or '—'}")
    return ephemeral(text, blocks)


def fleet_status(instances: list[InstanceStatus]) -> Message:
    """``status`` with a fleet: every instance's latest backup and how old its latest SUCCESSFUL one is."""
    lines = []
    for item in instances:
        last = item.lastBackup
        good = item.lastSuccessful
        state = f"{last.status}" if last else "no backup yet"
        fresh = (f"last SUCCESSFUL {duration(good.ageSeconds)} ago" if good and good.ageSeconds is not None
                 else "no SUCCESSFUL backup")
        lines.append(f"• `{escape(item.name)}`: {escape(state)}, {fresh}")
    text = "Backups per instance:\n" + "\n".join(lines)
    return ephemeral(_clip(text, _SECTION_LIMIT), [_section(_clip(text, _SECTION_LIMIT))])


def _requester(caller: str, context: dict[str, Any]) -> str:
    asker = context.get("slack")
    user = asker.get("user_id") if isinstance(asker, dict) else None
    return f"<@{escape(user)}>" if user else escape(caller)


def no_triggers() -> Message:
    return ephemeral("No backup has been requested yet.")


def _elapsed(doc: dict[str, Any], received_at: datetime, now: datetime) -> str:
    started = parse_iso(doc.get("startedAt"))
    if started is None:
        return f"waiting to start ({duration((now - received_at).total_seconds())} since the request)"
    ended = parse_iso(doc.get("completedAt"))
    if ended is None:
        return f"{duration((now - started).total_seconds())} so far"
    return duration((ended - started).total_seconds())


# ------------------------------------------------------------------ response_url posts
def for_delivery(event: str, body: dict[str, Any], options: dict[str, Any]) -> Message:
    """The ``response_url`` message for a delivery (``backup.started`` or ``backup.completed``)."""
    return started(body, options) if event == "backup.started" else ended(body, options)


def started(body: dict[str, Any], options: dict[str, Any]) -> Message:
    task = body.get("id") or "—"
    trigger = body.get("trigger") or {}
    text = escape(f"Backup started: SDDC Manager task {task}, trigger {trigger.get('id', '')}.")
    pairs = [("SDDC task", f"`{escape(task)}`"), ("Trigger", f"`{escape(trigger.get('id', ''))}`")]
    if trigger.get("reason"):
        pairs.append(("Reason", escape(trigger["reason"])))
    if body.get("adopted"):
        pairs.append(("Note", "Joined a backup SDDC Manager was already running."))
    blocks = [_header(":hourglass_flowing_sand: Backup started"), _fields(pairs),
              _context(_asker(options) + "The result will be posted here when it ends.")]
    return {"text": text, "blocks": blocks}


def fanout_ended(body: dict[str, Any], options: dict[str, Any]) -> Message:
    """A fan-out's one message: the outcome, then a line per instance."""
    outcome = str(body.get("outcome") or "failure")
    icon = {"success": ":white_check_mark:", "partial": ":warning:"}.get(outcome, ":x:")
    lines = [f"• `{escape(r.get('instance'))}`: {escape(r.get('status'))} (SDDC task `{escape(r.get('id') or '—')}`)"
             for r in body.get("results") or []]
    text = f"Backup of {len(lines)} instances: {outcome}\n" + "\n".join(lines)
    blocks = [_header(f"{icon} Backup of {len(lines)} instances: {outcome}"), _section(_clip("\n".join(lines) or "—",
                                                                                           _SECTION_LIMIT))]
    footer = _asker(options).strip()
    if footer:
        blocks.append(_context(footer))
    return {"text": _clip(escape(text), _SECTION_LIMIT), "blocks": blocks}


def ended(body: dict[str, Any], options: dict[str, Any]) -> Message:
    if "results" in body:
        return fanout_ended(body, options)
    status_ = str(body.get("status") or "UNKNOWN")
    success = body.get("outcome") == "success"
    task = body.get("id") or "—"
    trigger = body.get("trigger") or {}
    took = _took(body)
    pairs = [("SDDC task", f"`{escape(task)}`"), ("Duration", took or "—"),
             ("Trigger", f"`{escape(trigger.get('id', ''))}`"), ("Resources", _resources(body.get("resources")))]
    if trigger.get("reason"):
        pairs.append(("Reason", escape(trigger["reason"])))
    icon = ":white_check_mark:" if success else ":x:"
    blocks = [_header(f"{icon} Backup {status_}"), _fields(pairs)]
    errors = body.get("errors") or []
    if not success:
        blocks += _error_blocks(errors)
    footer = (_asker(options) + (escape(body["note"]) if body.get("note") else "")).strip()
    if footer:
        blocks.append(_context(footer))
    text = f"Backup {status_}: SDDC Manager task {task}" + (f", {took}" if took else "")
    if not success and errors:
        first = errors[0]
        text += f". {_sentence(first.get('message') or first.get('errorCode') or '')}"
        if first.get("remediationMessage"):
            text += f" Remediation: {first['remediationMessage']}"
    return {"text": _clip(escape(text), _SECTION_LIMIT), "blocks": blocks}


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _asker(options: dict[str, Any]) -> str:
    user = options.get("user_id")
    return f"Requested by <@{escape(user)}>. " if user else ""


def _took(body: dict[str, Any]) -> str | None:
    started_at, completed_at = parse_iso(body.get("startedAt")), parse_iso(body.get("completedAt"))
    if started_at is None or completed_at is None:
        return None
    return duration((completed_at - started_at).total_seconds())


def _resources(resources: list[dict[str, Any]] | None) -> str:
    if not resources:
        return "—"
    names = [_resource(r) for r in resources[:5]]
    more = f" (+{len(resources) - 5} more)" if len(resources) > 5 else ""
    return ", ".join(names) + more


def _resource(resource: dict[str, Any]) -> str:
    name = " ".join(escape(resource[k]) for k in ("type", "name") if resource.get(k)) or "?"
    return name + (f" ({escape(resource['fqdn'])})" if resource.get("fqdn") else "")


def _error_blocks(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for error in errors[:_MAX_ERRORS]:
        code = f"*{escape(error['errorCode'])}*: " if error.get("errorCode") else ""
        line = code + escape(_clip(str(error.get("message") or "no message"), _ERROR_TEXT_LIMIT))
        if error.get("remediationMessage"):
            line += f"\n_Remediation:_ {escape(_clip(str(error['remediationMessage']), _ERROR_TEXT_LIMIT))}"
        blocks.append(_section(":warning: " + line))
    if len(errors) > _MAX_ERRORS:
        blocks.append(_context(f"{len(errors) - _MAX_ERRORS} more errors in the trigger's status."))
    return blocks


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``: short enough for a Slack field."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
