"""The request-path side of the core: accept a trigger durably, answer status questions.

Nothing here calls SDDC Manager: a trigger is stored (committed) before the caller hears 2xx,
and the worker does the rest. Waiting callers wait on the store, not on a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .callbacks import CallbackPolicy
from .errors import NotFound, ServiceError, StoreUnavailable
from .ports import Clock, Store
from .results import iso, result_document, trigger_summary
from .triggers import Delivery, Trigger, TriggerState


@dataclass
class Receipt:
    trigger: Trigger
    created: bool


@dataclass
class TriggerView:
    """Everything ``GET /v1/triggers/{id}`` shows."""

    trigger: Trigger
    backup: dict[str, Any] | None
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.trigger.state in (TriggerState.DONE, TriggerState.SKIPPED)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "trigger": {
                **trigger_summary(self.trigger),
                "elements": [e.to_json_dict() for e in self.trigger.spec.elements],
                "backupId": self.trigger.backup_id,
                "completedAt": iso(self.trigger.completed_at),
                "callbackUrl": self.trigger.callback.url if self.trigger.callback else None,
                "context": self.trigger.context,
            },
            "backup": self.backup,
            "deliveries": [_delivery_json(d) for d in self.deliveries],
        }


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event.value,
        "kind": delivery.target.kind,
        "url": delivery.target.url,
        "state": delivery.state.value,
        "createdAt": iso(delivery.created_at),
        "deliveredAt": iso(delivery.delivered_at),
        "nextAttemptAt": iso(delivery.next_attempt_at) if delivery.state.value == "PENDING" else None,
        "lastError": delivery.last_error,
        "attempts": [
            {"at": iso(a.at), "statusCode": a.status_code, "error": a.error, "durationMs": a.duration_ms}
            for a in delivery.attempts
        ],
    }


class TriggerService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        callback_policy: CallbackPolicy,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.callback_policy = callback_policy
        self._wake = wake or (lambda: None)

    def accept(self, trigger: Trigger) -> Receipt:
        """Store the trigger (idempotent on caller + dedupe key) and wake a worker."""
        if trigger.callback is not None and trigger.callback.kind == "webhook":
            self.callback_policy.check(trigger.callback.url)
        try:
            stored, created = self.store.add_trigger(trigger)
        except ServiceError:
            raise
        except Exception as exc:  # the store adapter failed in a way it did not classify
            raise StoreUnavailable(f"The trigger could not be stored: {type(exc).__name__}.") from exc
        if created:
            self._wake()
        return Receipt(stored, created)

    def skip(self, trigger: Trigger) -> Receipt:
        """Record a trigger that knowingly starts nothing (duplicate, cooldown, resolved alert)."""
        stored, created = self.store.skip_trigger(trigger)
        return Receipt(stored, created)

    def view(self, trigger_id: str) -> TriggerView:
        trigger = self.store.get_trigger(trigger_id)
        if trigger is None:
            raise NotFound(f"No trigger with id {trigger_id}.")
        return self._view(trigger)

    def latest(self, source: str | None = None) -> TriggerView | None:
        trigger = self.store.latest_trigger(source)
        return self._view(trigger) if trigger else None

    def _view(self, trigger: Trigger) -> TriggerView:
        backup = self.store.get_backup(trigger.backup_id) if trigger.backup_id else None
        document = result_document(trigger, backup) if backup else None
        return TriggerView(trigger, document, self.store.deliveries_of_trigger(trigger.id))

    def wait(self, trigger_id: str, seconds: float, *, poll: float = 0.1) -> TriggerView:
        """Block until the trigger is finished or ``seconds`` pass; reads only the store."""
        deadline = time.monotonic() + max(0.0, seconds)
        view = self.view(trigger_id)
        while not view.finished and time.monotonic() < deadline:
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
            poll = min(poll * 1.5, 1.0)
            view = self.view(trigger_id)
        return view

    def history(
        self, *, source: str | None = None, state: TriggerState | None = None, since: datetime | None = None,
        limit: int = 50, before_id: str | None = None,
    ) -> list[Trigger]:
        return self.store.list_triggers(source=source, state=state, since=since, limit=limit, before_id=before_id)
