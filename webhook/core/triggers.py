"""Trigger, Backup and Delivery: the three records the service keeps, and their states.

::

    Trigger   ACCEPTED ─► ATTACHED(backup) ─► DONE(result)       SKIPPED (cooldown / duplicate), with the reason
    Backup    SUBMITTING ─► IN_PROGRESS ─► SUCCESSFUL | FAILED | CANCELLED | TIMED_OUT     SUBMIT_FAILED(error)
    Delivery  PENDING ─► DELIVERED | GAVE_UP (after the retry budget), every attempt recorded
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .models import BackupSpec, Error, Resource


def new_id(prefix: str) -> str:
    """Short, URL-safe, unguessable ids (``trg_…``, ``bkp_…``, ``dlv_…``)."""
    return f"{prefix}_{secrets.token_hex(10)}"


class TriggerState(str, Enum):
    ACCEPTED = "ACCEPTED"
    ATTACHED = "ATTACHED"
    DONE = "DONE"
    SKIPPED = "SKIPPED"


class BackupState(str, Enum):
    SUBMITTING = "SUBMITTING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    SUBMIT_FAILED = "SUBMIT_FAILED"

    @property
    def is_active(self) -> bool:
        return self in (BackupState.SUBMITTING, BackupState.IN_PROGRESS)

    @property
    def is_success(self) -> bool:
        return self is BackupState.SUCCESSFUL


class DeliveryState(str, Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    GAVE_UP = "GAVE_UP"
    # Never sent because it was no longer needed (a run-task deadline the backup beat).
    CANCELLED = "CANCELLED"


class DeliveryEvent(str, Enum):
    STARTED = "backup.started"
    COMPLETED = "backup.completed"
    # Scheduled at accept time, due at a deadline: the final word if the backup has not ended by then
    # (HCP Terraform run tasks). The worker sends it only if it can still finish the trigger.
    DEADLINE = "backup.deadline"


class Record(BaseModel):
    model_config = ConfigDict(use_enum_values=False)


class CallbackTarget(Record):
    """Where a trigger's result goes. ``kind`` picks the notifier (webhook, slack, tfc_run_task)."""

    kind: str = "webhook"
    url: str
    options: dict[str, Any] = Field(default_factory=dict)


class Trigger(Record):
    id: str = Field(default_factory=lambda: new_id("trg"))
    source: str
    caller: str
    spec: BackupSpec
    reason: str | None = None
    dedupe_key: str | None = None
    # Groups triggers that are "the same ask" over time (an alert group's firing set) for cooldowns.
    correlation_key: str | None = None
    callback: CallbackTarget | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    reuse_if_newer_than: float | None = None
    received_at: datetime
    state: TriggerState = TriggerState.ACCEPTED
    backup_id: str | None = None
    note: str | None = None
    completed_at: datetime | None = None
    # Routing: a source sets what the caller asked (``target``: one instance's name, ``selector``:
    # labels all to match, {} every instance); the service resolves it against the fleet into
    # ``instance``, the SDDC Manager this trigger is for ("*" on a fan-out trigger, whose ``targets``
    # name the instances its selector matched and whose children carry one each).
    instance: str = "default"
    target: str | None = Field(None, exclude=True)
    selector: dict[str, str] | None = Field(None, exclude=True)
    targets: list[str] | None = None
    parent_id: str | None = None  # a fan-out child: the trigger it answers to

    @property
    def is_fanout(self) -> bool:
        return self.instance == FANOUT


FANOUT = "*"  # the instance of a fan-out trigger: its children carry the real ones


class Backup(Record):
    id: str = Field(default_factory=lambda: new_id("bkp"))
    spec: BackupSpec
    state: BackupState = BackupState.SUBMITTING
    sddc_task_id: str | None = None
    adopted: bool = False
    name: str | None = None
    sddc_status: str | None = None
    resources: list[Resource] = Field(default_factory=list)
    errors: list[Error] = Field(default_factory=list)
    created_at: datetime
    submit_started_at: datetime | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    next_poll_at: datetime | None = None
    poll_failures: int = 0
    submit_attempts: int = 0
    instance: str = "default"  # the SDDC Manager it runs on

    @property
    def spec_key(self) -> str:
        return self.spec.key()


class DeliveryAttempt(Record):
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class Delivery(Record):
    id: str = Field(default_factory=lambda: new_id("dlv"))
    trigger_id: str
    event: DeliveryEvent = DeliveryEvent.COMPLETED
    target: CallbackTarget
    body: dict[str, Any]
    state: DeliveryState = DeliveryState.PENDING
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    created_at: datetime
    next_attempt_at: datetime
    give_up_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutline:
    """What a notifier weighs of a trigger's other deliveries before it posts (Slack's budget, no
    ``running`` after the final word): read without their bodies and targets, the bulk of a row."""

    id: str
    event: DeliveryEvent
    state: DeliveryState
    attempts: int

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOutline:
        return cls(delivery.id, delivery.event, delivery.state, len(delivery.attempts))


class RecordedAttempt(Record):
    """One attempt and the state it leaves its delivery in; the worker records several per commit."""

    delivery_id: str
    attempt: DeliveryAttempt
    state: DeliveryState
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    # Callback options (a run task's access token) to erase from the trigger and its deliveries in the
    # same commit: the final word is out, and no crash may leave the secret behind once it is recorded.
    forget_options: list[str] = Field(default_factory=list)


class AttemptResult(Record):
    """What a notifier reports for one attempt; ``retry_after`` honours the receiver's wish."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False
