"""What the service answers with: a stored trigger's receipt, and a trigger with its backup and deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .results import TriggerStatus, backup_result, delivery_doc, shown_url, trigger_detail
from .triggers import Backup, Delivery, Trigger, TriggerState


@dataclass(frozen=True)
class RunningBackup:
    """What an answer says of the backup in progress a new request joins."""

    id: str
    sddc_task_id: str
    spec_key: str
    submitted_at: datetime | None


@dataclass
class Receipt:
    trigger: Trigger
    created: bool
    riding: RunningBackup | None = None  # the backup the answer may name (``Intake.announce_running``)


@dataclass
class TriggerView:
    """Everything ``GET /v1/triggers/{id}`` shows."""

    trigger: Trigger
    backup: dict[str, Any] | None  # the result document (BackupResult as JSON), as callbacks carry it
    deliveries: list[Delivery] = field(default_factory=list)
    record: Backup | None = None
    fanout: dict[str, Any] | None = None  # a fan-out trigger: its outcome and one result per instance

    @property
    def finished(self) -> bool:
        return self.trigger.state in (TriggerState.DONE, TriggerState.SKIPPED)

    def status(self, status_url: str, duplicate: bool | None = None, viewer: str | None = None) -> TriggerStatus:
        """The document for ``viewer`` (a caller name; None: the trigger's own caller, answering its POST).

        Callback targets are capabilities: only the trigger's own caller sees its callbackUrl whole;
        Slack response_urls and run-task callback URLs are never shown past their host.
        """
        owner = viewer is None or viewer == self.trigger.caller
        detail = trigger_detail(self.trigger)
        if self.trigger.callback is not None:
            detail.callbackUrl = shown_url(self.trigger.callback.url, self.trigger.callback.kind, owner)
        deliveries = [delivery_doc(d) for d in self.deliveries]
        for doc, delivery in zip(deliveries, self.deliveries, strict=True):
            doc.url = shown_url(delivery.target.url, delivery.target.kind, owner)
        return TriggerStatus.model_construct(  # from validated records: no second validation
            id=self.trigger.id, state=self.trigger.state.value, statusUrl=status_url, duplicate=duplicate,
            trigger=detail,
            backup=backup_result(self.trigger, self.record) if self.record else None,
            deliveries=deliveries, fanout=self.fanout,
        )
