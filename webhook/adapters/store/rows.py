"""Rows ⇄ core records. Times are stored as UTC epoch seconds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from ...core.models import BackupSpec, Error, Resource
from ...core.triggers import (
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryState,
    Trigger,
    TriggerState,
)


def epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def time_of(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def trigger_row(t: Trigger) -> dict[str, Any]:
    return {
        "id": t.id, "source": t.source, "caller": t.caller, "spec": t.spec.to_json_dict(),
        "spec_key": t.spec.key(), "reason": t.reason, "dedupe_key": t.dedupe_key, "correlation_key": t.correlation_key,
        "callback": t.callback.model_dump(mode="json") if t.callback else None, "context": t.context,
        "reuse_if_newer_than": t.reuse_if_newer_than, "received_at": epoch(t.received_at),
        "state": t.state.value, "backup_id": t.backup_id, "note": t.note, "completed_at": epoch(t.completed_at),
        "instance": t.instance, "parent_id": t.parent_id, "targets": t.targets,
    }


# trigger_row's columns in its order: the SQLite insert of the request path takes trigger_values' tuples.
TRIGGER_COLUMNS = ("id", "source", "caller", "spec", "spec_key", "reason", "dedupe_key", "correlation_key", "callback",
                   "context", "reuse_if_newer_than", "received_at", "state", "backup_id", "note", "completed_at",
                   "instance", "parent_id", "targets")


def trigger_values(t: Trigger) -> tuple[Any, ...]:
    """``trigger_row`` as the tuple of ``TRIGGER_COLUMNS``, JSON columns as text (as Core stores them on SQLite).

    Built straight from the record, without the dict and a JSON encoder pass per column: every
    acknowledged trigger goes through here. A test holds it equal to ``trigger_row``.
    """
    context = t.context
    return (
        t.id, t.source, t.caller, t.spec.model_dump_json(exclude_none=True), t.spec.key(), t.reason, t.dedupe_key,
        t.correlation_key, t.callback.model_dump_json() if t.callback else None,
        json_text(context) if context else "{}", t.reuse_if_newer_than, t.received_at.timestamp(), t.state.value,
        t.backup_id, t.note, epoch(t.completed_at), t.instance, t.parent_id,
        json_text(t.targets) if t.targets is not None else None,
    )


def json_text(value: Any) -> str:
    """``value`` as JSON text, by pydantic's serializer (a quarter of json's CPU on a hook's context);
    json writes what it refuses (a lone surrogate, as an escape)."""
    try:
        return to_json(value).decode()
    except ValueError:
        return json.dumps(value)


def trigger_of(r: Mapping[Any, Any]) -> Trigger:
    return Trigger(
        id=r["id"], source=r["source"], caller=r["caller"], spec=BackupSpec.model_validate(r["spec"]),
        reason=r["reason"], dedupe_key=r["dedupe_key"], correlation_key=r["correlation_key"],
        callback=CallbackTarget.model_validate(r["callback"]) if r["callback"] else None,
        context=r["context"] or {}, reuse_if_newer_than=r["reuse_if_newer_than"],
        received_at=time_of(r["received_at"]), state=TriggerState(r["state"]), backup_id=r["backup_id"],
        note=r["note"], completed_at=time_of(r["completed_at"]),
        instance=r["instance"], parent_id=r["parent_id"], targets=r["targets"],
    )


def backup_row(b: Backup) -> dict[str, Any]:
    return {
        "id": b.id, "spec": b.spec.to_json_dict(), "spec_key": b.spec_key, "state": b.state.value,
        "sddc_task_id": b.sddc_task_id, "adopted": b.adopted, "name": b.name, "sddc_status": b.sddc_status,
        "resources": [r.to_json_dict() for r in b.resources], "errors": [e.to_json_dict() for e in b.errors],
        "created_at": epoch(b.created_at), "submit_started_at": epoch(b.submit_started_at),
        "submitted_at": epoch(b.submitted_at), "completed_at": epoch(b.completed_at),
        "next_poll_at": epoch(b.next_poll_at), "poll_failures": b.poll_failures,
        "submit_attempts": b.submit_attempts, "instance": b.instance,
    }


def backup_of(r: Mapping[Any, Any]) -> Backup:
    return Backup(
        id=r["id"], spec=BackupSpec.model_validate(r["spec"]), state=BackupState(r["state"]),
        sddc_task_id=r["sddc_task_id"], adopted=bool(r["adopted"]), name=r["name"], sddc_status=r["sddc_status"],
        resources=[Resource.model_validate(x) for x in r["resources"] or []],
        errors=[Error.model_validate(x) for x in r["errors"] or []],
        created_at=time_of(r["created_at"]), submit_started_at=time_of(r["submit_started_at"]),
        submitted_at=time_of(r["submitted_at"]), completed_at=time_of(r["completed_at"]),
        next_poll_at=time_of(r["next_poll_at"]), poll_failures=r["poll_failures"] or 0,
        submit_attempts=r["submit_attempts"] or 0, instance=r["instance"],
    )


def delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id, "trigger_id": d.trigger_id, "event": d.event.value, "target": d.target.model_dump(mode="json"),
        "body": d.body, "state": d.state.value, "attempts": [a.model_dump(mode="json") for a in d.attempts],
        "created_at": epoch(d.created_at), "next_attempt_at": epoch(d.next_attempt_at),
        "give_up_at": epoch(d.give_up_at), "delivered_at": epoch(d.delivered_at), "last_error": d.last_error,
    }


def delivery_of(r: Mapping[Any, Any]) -> Delivery:
    return Delivery(
        id=r["id"], trigger_id=r["trigger_id"], event=DeliveryEvent(r["event"]),
        target=CallbackTarget.model_validate(r["target"]), body=r["body"], state=DeliveryState(r["state"]),
        attempts=[DeliveryAttempt.model_validate(a) for a in r["attempts"] or []],
        created_at=time_of(r["created_at"]), next_attempt_at=time_of(r["next_attempt_at"]) or time_of(r["created_at"]),
        give_up_at=time_of(r["give_up_at"]), delivered_at=time_of(r["delivered_at"]), last_error=r["last_error"],
    )
