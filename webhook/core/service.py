"""The request-path side of the core: accept a trigger durably, answer status questions.

Nothing here calls SDDC Manager: a trigger is stored (committed) before the caller hears 2xx,
and the worker does the rest. Waiting callers wait on the store, not on a socket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .callbacks import CallbackPolicy
from .errors import NotFound, ServiceError, StoreUnavailable
from .metrics import Metrics, NullMetrics
from .ports import Clock, Store
from .results import TriggerStatus, backup_result, delivery_doc, result_document, trigger_detail
from .triggers import Backup, Delivery, Trigger, TriggerState

log = logging.getLogger("webhook.service")


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


class TriggerService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        callback_policy: CallbackPolicy,
        *,
        wake: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics: Metrics = metrics or NullMetrics()
        self.store = store
        self.clock = clock
        self.callback_policy = callback_policy
        self._wake = wake or (lambda: None)

    def accept(self, trigger: Trigger, owed: Sequence[Delivery] = ()) -> Receipt:
        """Store the trigger (idempotent on caller + dedupe key) and wake a worker.

        ``owed``: deliveries a new trigger owes from the start, stored in the same transaction.
        """
        if trigger.callback is not None and trigger.callback.kind == "webhook":
            self.callback_policy.check(trigger.callback.url)
        try:
            stored, created = self.store.add_trigger(trigger, owed)
        except ServiceError:
            raise
        except Exception as exc:  # the store adapter failed in a way it did not classify
            raise StoreUnavailable(f"The trigger could not be stored: {type(exc).__name__}.") from exc
        if created:
            self._wake()
        self.metrics.trigger(trigger.source, "accepted" if created else "duplicate")
        log.info("trigger accepted" if created else "duplicate trigger", extra={
            "event": "trigger.accepted" if created else "trigger.duplicate", "trigger_id": stored.id,
            "source": stored.source, "caller": stored.caller})
        return Receipt(stored, created)

    def skip(self, trigger: Trigger, reason: str = "skipped", owed: Sequence[Delivery] = ()) -> Receipt:
        """Record a trigger that knowingly starts nothing (duplicate, cooldown, resolved alert).

        ``reason`` is a short, low-cardinality label for metrics; the detail goes in ``trigger.note``.
        """
        stored, created = self.store.skip_trigger(trigger, owed)
        self.metrics.trigger(trigger.source, "skipped" if created else "duplicate", reason)
        log.info("trigger skipped", extra={"event": "trigger.skipped", "trigger_id": stored.id,
                                           "source": stored.source, "caller": stored.caller, "reason": reason})
        return Receipt(stored, created)

    def wake(self) -> None:
        """Wake a worker for work stored outside ``accept`` (a delivery owed at once)."""
        self._wake()

    def receipt_view(self, receipt: Receipt, wait: float | None = None) -> TriggerView:
        """The view to answer an accept with: a new trigger needs no read back (it has nothing yet)."""
        if wait:
            return self.wait(receipt.trigger.id, wait)
        if receipt.created:
            return TriggerView(receipt.trigger, None)
        return self.view(receipt.trigger.id)

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
        return TriggerView(trigger, document, self.store.deliveries_of_trigger(trigger.id), backup)

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
        limit: int = 50, before_id: str | None = None, caller: str | None = None,
    ) -> list[Trigger]:
        return self.store.list_triggers(source=source, state=state, since=since, limit=limit, before_id=before_id,
                                        caller=caller)
