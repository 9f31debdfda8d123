"""The documents the service shows, as pydantic models (so /openapi.json is generated from them).

``BackupResult`` is a BackupTask (seed schema) plus who asked and when it ran. The same document
is the callback body, the ``backup`` part of ``GET /v1/triggers/{id}`` and the output of
``vcf-backup-webhook trigger``, so every way of asking sees one shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from .models import BackupResource, BackupTask
from .triggers import Backup, BackupState, Delivery, DeliveryState, Trigger


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


class TriggerSummary(BaseModel):
    id: str
    source: str = Field(description="generic, terraform, terraform-run-task, alertmanager, slack")
    caller: str = Field(description="Who asked: the API token's name, the Slack user, the Alertmanager receiver")
    reason: str | None = None
    receivedAt: str | None = None
    state: Literal["ACCEPTED", "ATTACHED", "DONE", "SKIPPED"]
    note: str | None = Field(None, description="Why it was skipped, or that a recent backup was reused")


class BackupResult(BackupTask):
    """A BackupTask whose ``status`` is the service's state: IN_PROGRESS, SUCCESSFUL, FAILED, CANCELLED,
    TIMED_OUT, SUBMIT_FAILED (or SUBMITTING before SDDC Manager answered)."""

    outcome: Literal["pending", "success", "failure"]
    backupId: str
    adopted: bool = Field(description="True if SDDC Manager was already running this backup when asked")
    startedAt: str | None = None
    completedAt: str | None = None
    trigger: TriggerSummary
    note: str | None = None


class TriggerDetail(TriggerSummary):
    elements: list[BackupResource]
    backupId: str | None = None
    completedAt: str | None = None
    callbackUrl: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    instance: str | None = Field(None, description='The SDDC Manager instance ("*" for a fan-out trigger)')
    targets: list[str] | None = Field(None, description="A fan-out trigger: the instances its selector matched")


class AttemptDoc(BaseModel):
    at: str | None
    statusCode: int | None = None
    error: str | None = None
    durationMs: int = 0


class DeliveryDoc(BaseModel):
    id: str
    event: Literal["backup.started", "backup.completed", "backup.deadline"]
    kind: str
    url: str
    state: Literal["PENDING", "DELIVERED", "GAVE_UP", "CANCELLED"]
    createdAt: str | None = None
    deliveredAt: str | None = None
    nextAttemptAt: str | None = None
    lastError: str | None = None
    attempts: list[AttemptDoc]


class TriggerStatus(BaseModel):
    """``GET /v1/triggers/{id}`` (and the answer to ``POST /v1/triggers``)."""

    id: str
    state: Literal["ACCEPTED", "ATTACHED", "DONE", "SKIPPED"]
    statusUrl: str
    duplicate: bool | None = Field(None, description="POST only: true when the idempotency key matched")
    trigger: TriggerDetail
    backup: BackupResult | None = None
    deliveries: list[DeliveryDoc]
    fanout: dict[str, Any] | None = Field(
        None, description="A fan-out trigger: outcome (pending, success, partial, failure) and results, one "
                          "{instance, ...BackupResult} per instance, as its callback carries them")


class TriggerPage(BaseModel):
    items: list[TriggerStatus]
    next: str | None = Field(None, description="URL of the next (older) page")


def trigger_summary(trigger: Trigger) -> TriggerSummary:
    return TriggerSummary(id=trigger.id, source=trigger.source, caller=trigger.caller, reason=trigger.reason,
                          receivedAt=iso(trigger.received_at), state=trigger.state.value, note=trigger.note)


def outcome(backup: Backup) -> Literal["pending", "success", "failure"]:
    if backup.state.is_active:
        return "pending"
    return "success" if backup.state is BackupState.SUCCESSFUL else "failure"


def backup_result(trigger: Trigger, backup: Backup, note: str | None = None) -> BackupResult:
    return BackupResult(
        id=backup.sddc_task_id, name=backup.name, status=backup.state.value, resources=backup.resources or None,
        errors=backup.errors or None, outcome=outcome(backup), backupId=backup.id, adopted=backup.adopted,
        startedAt=iso(backup.submitted_at or backup.created_at), completedAt=iso(backup.completed_at),
        trigger=trigger_summary(trigger), note=note or trigger.note,
    )


def result_document(trigger: Trigger, backup: Backup, note: str | None = None) -> dict[str, Any]:
    return backup_result(trigger, backup, note).model_dump(mode="json", exclude_none=True)


def result_documents(triggers: list[Trigger], backup: Backup, note: str | None = None) -> list[dict[str, Any]]:
    """``result_document`` of each trigger on one backup: the backup's part is built by the model once,
    only the trigger's part per trigger (a storm's thousands of callbacks each built the whole model).
    A test holds each equal to ``result_document``. The backup's nested lists are shared between the
    documents: callback bodies are only ever serialised, never changed in place."""
    if not triggers:
        return []
    shared = result_document(triggers[0], backup, note)
    shared.pop("note", None)  # the last field: per trigger below, so each document keeps the model's order
    documents = []
    for trigger in triggers:
        document = {**shared, "trigger": _summary_document(trigger)}
        said = note or trigger.note
        if said is not None:
            document["note"] = said
        documents.append(document)
    return documents


def _summary_document(trigger: Trigger) -> dict[str, Any]:
    """``trigger_summary(trigger)`` as JSON without its None fields, in the model's field order."""
    fields = (("id", trigger.id), ("source", trigger.source), ("caller", trigger.caller), ("reason", trigger.reason),
              ("receivedAt", iso(trigger.received_at)), ("state", trigger.state.value), ("note", trigger.note))
    return {name: value for name, value in fields if value is not None}


def trigger_detail(trigger: Trigger) -> TriggerDetail:
    # Built from a validated Trigger, so construct without validating again (it is on every POST).
    return TriggerDetail.model_construct(
        id=trigger.id, source=trigger.source, caller=trigger.caller, reason=trigger.reason,
        receivedAt=iso(trigger.received_at), state=trigger.state.value, note=trigger.note,
        elements=trigger.spec.elements, backupId=trigger.backup_id,
        completedAt=iso(trigger.completed_at), callbackUrl=trigger.callback.url if trigger.callback else None,
        context=trigger.context, instance=trigger.instance, targets=trigger.targets,
    )


def delivery_doc(delivery: Delivery) -> DeliveryDoc:
    return DeliveryDoc(
        id=delivery.id, event=delivery.event.value, kind=delivery.target.kind, url=delivery.target.url,
        state=delivery.state.value, createdAt=iso(delivery.created_at), deliveredAt=iso(delivery.delivered_at),
        nextAttemptAt=iso(delivery.next_attempt_at) if delivery.state is DeliveryState.PENDING else None,
        lastError=delivery.last_error,
        attempts=[AttemptDoc(at=iso(a.at), statusCode=a.status_code, error=a.error, durationMs=a.duration_ms)
                  for a in delivery.attempts],
    )


# Callback kinds whose URL is itself the capability (anyone holding it can post to the Slack channel,
# or set the run task's result): never shown past their host, not even to the trigger's caller.
_SECRET_URL_KINDS = frozenset({"slack", "tfc_run_task"})


def shown_url(url: str, kind: str, owner: bool) -> str:
    """``url`` as the audit API may show it: whole to its owner (generic callbacks), else only its origin."""
    if owner and kind not in _SECRET_URL_KINDS:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(redacted)"
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…(redacted)"


def backup_task(backup: Backup) -> BackupTask:
    """The seed's BackupTask for a backup; ``status`` is the service's normalised state."""
    return BackupTask(id=backup.sddc_task_id, name=backup.name, status=backup.state.value,
                      resources=backup.resources or None, errors=backup.errors or None)
