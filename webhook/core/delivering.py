"""The worker's deliver step: send the callbacks that are due and record every attempt.

Attempts are committed a few at a time: one commit per callback was an fsync each on the core the
request path needs. What was sent before a failure in the same pass is still recorded, and callback
secrets kept for a final word are erased only once the attempt that used them is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .deliveries import DeliveryPolicy
from .metrics import Metrics
from .ports import Clock, Notifier, Store
from .results import result_document
from .triggers import Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState, RecordedAttempt

if TYPE_CHECKING:
    from .worker import WorkerConfig

log = logging.getLogger("webhook.worker")


class DeliveryStep:
    def __init__(self, store: Store, notifier: Notifier, clock: Clock, config: WorkerConfig,
                 policy: DeliveryPolicy, metrics: Metrics) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.config = config
        self.policy = policy
        self.metrics = metrics
        self.owner = config.worker_id

    def run(self) -> bool:
        """Send what is due; attempts are recorded a few at a time (``record_every``, ``record_within``)."""
        claimed = self.store.claim_deliveries(self.owner, self.clock.now(), self.config.lease_seconds,
                                              self.config.batch)
        unrecorded = _Unrecorded()
        try:
            for delivery in claimed:
                if delivery.event is DeliveryEvent.DEADLINE and not self._deadline_stands(delivery):
                    continue
                self._attempt(delivery, unrecorded)
                if unrecorded.due(self.clock.now(), self.config.record_every, self.config.record_within):
                    self._record(unrecorded)
        finally:  # whatever was sent is recorded, even if a later step failed
            self._record(unrecorded)
        return len(claimed) >= self.config.batch

    def _attempt(self, delivery: Delivery, unrecorded: _Unrecorded) -> None:
        started = self.clock.now()
        result = self.notifier.send(delivery)
        finished = self.clock.now()
        attempt = DeliveryAttempt(at=started, status_code=result.status_code, error=result.error,
                                  duration_ms=int((finished - started).total_seconds() * 1000))
        state, next_at = self.policy.next_state(delivery, result, finished)
        unrecorded.add(RecordedAttempt(delivery_id=delivery.id, attempt=attempt, state=state,
                                       next_attempt_at=next_at, last_error=None if result.ok else result.error),
                       finished)
        outcome = {DeliveryState.DELIVERED: "delivered", DeliveryState.GAVE_UP: "gave_up"}.get(state, "retry")
        self.metrics.delivery(delivery.target.kind, outcome, len(delivery.attempts) + 1)
        log.info("delivery attempt", extra={
            "event": "delivery.attempt", "trigger_id": delivery.trigger_id, "delivery_id": delivery.id,
            "status_code": result.status_code, "state": state.value, "error": result.error})
        forget = delivery.target.options.get("forget_after_final")
        if forget and state is not DeliveryState.PENDING and delivery.event is not DeliveryEvent.STARTED:
            # The final word is out (or never will be): secrets kept only for it go, once it is recorded.
            unrecorded.forget.append((delivery.trigger_id, list(forget)))

    def _record(self, unrecorded: _Unrecorded) -> None:
        if unrecorded.attempts:
            self.store.record_attempts(self.owner, unrecorded.attempts)
        for trigger_id, keys in unrecorded.forget:
            self.store.forget_callback_options(trigger_id, keys)
        unrecorded.clear()

    def _deadline_stands(self, delivery: Delivery) -> bool:
        """A deadline delivery speaks only if it can still finish its trigger (the backup did not end first).

        Finishing the trigger here is what keeps the backup's end from owing it a second final word.
        """
        note = str(delivery.body.get("note") or "The deadline passed before the backup ended.")
        trigger = self.store.expire_trigger(delivery.trigger_id, self.clock.now(), note)
        if trigger is None:
            self.store.cancel_delivery(delivery.id, self.owner,
                                       "not needed: the backup ended before the deadline")
            return False
        backup = self.store.get_backup(trigger.backup_id) if trigger.backup_id else None
        if backup is not None:  # say how far the backup got (task id, status)
            delivery.body = result_document(trigger, backup, note)
        log.info("deadline passed", extra={"event": "trigger.deadline", "trigger_id": trigger.id,
                                           "backup_id": trigger.backup_id})
        return True


@dataclass
class _Unrecorded:
    """Attempts sent but not yet recorded, and the callback secrets to erase once they are."""

    attempts: list[RecordedAttempt] = field(default_factory=list)
    forget: list[tuple[str, list[str]]] = field(default_factory=list)
    since: datetime | None = None

    def add(self, attempt: RecordedAttempt, at: datetime) -> None:
        self.attempts.append(attempt)
        self.since = self.since or at

    def due(self, now: datetime, every: int, within: float) -> bool:
        if not self.attempts or self.since is None:
            return False
        return len(self.attempts) >= every or (now - self.since).total_seconds() >= within

    def clear(self) -> None:
        self.attempts, self.forget, self.since = [], [], None
