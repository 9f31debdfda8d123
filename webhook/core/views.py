"""What the service answers with: a stored trigger's receipt, and a trigger with its backup and deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .results import TriggerStatus, backup_result, delivery_doc, trigger_detail
from .triggers import Backup, Delivery, Trigger, TriggerState


@dataclass
class Receipt:
    trigger: Trigger
    created: bool


@dataclass
class TriggerView:
    """Everything ``GET /v1/triggers/{id}`` shows."""

    trigger: Trigger
    backup: dict[str, Any] | None  # the result document (BackupResult as JSON), as callbacks carry it
    deliveries: list[Delivery] = field(default_factory=list)
    record: Backup | None = None

    @property
    def finished(self) -> bool:
        return self.trigger.state in (TriggerState.DONE, TriggerState.SKIPPED)

    def status(self, status_url: str, duplicate: bool | None = None) -> TriggerStatus:
        return TriggerStatus.model_construct(  # from validated records: no second validation
            id=self.trigger.id, state=self.trigger.state.value, statusUrl=status_url, duplicate=duplicate,
            trigger=trigger_detail(self.trigger),
            backup=backup_result(self.trigger, self.record) if self.record else None,
            deliveries=[delivery_doc(d) for d in self.deliveries],
        )
