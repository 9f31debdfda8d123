"""Result deliveries: what is owed to whom, and when to try again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .results import result_documents
from .triggers import AttemptResult, Backup, Delivery, DeliveryEvent, DeliveryState, Trigger, new_id

# A callback option: the backup the caller was told, in its acknowledgement, that its request rides
# (its SDDC task id included). Attached to that backup, the trigger owes no separate "started" message.
ANNOUNCED_BACKUP = "announced_backup"


@dataclass(frozen=True)
class DeliveryPolicy:
    """Retry budget and backoff (exponential with jitter) for callbacks."""

    budget_seconds: float = 6 * 3600
    initial_backoff: float = 1.0
    max_backoff: float = 300.0
    # Notifier kinds that also want a message when the backup starts (the sources registry says which).
    started_event_kinds: frozenset[str] = frozenset()

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        base = min(self.max_backoff, self.initial_backoff * (2 ** max(0, attempts - 1)))
        delay = random.uniform(base / 2, base)  # noqa: S311 - jitter, not security
        return max(delay, retry_after or 0.0)

    def next_state(
        self, delivery: Delivery, result: AttemptResult, now: datetime
    ) -> tuple[DeliveryState, datetime | None]:
        if result.ok:
            return DeliveryState.DELIVERED, None
        next_at = now + timedelta(seconds=self.backoff(len(delivery.attempts) + 1, result.retry_after))
        if result.permanent or next_at > delivery.give_up_at:
            return DeliveryState.GAVE_UP, None
        return DeliveryState.PENDING, next_at


def owes_started(trigger: Trigger, backup_id: str, started_kinds: frozenset[str]) -> bool:
    """Whether ``trigger``, attached to backup ``backup_id`` in progress, owes a "backup started" message."""
    callback = trigger.callback
    return (callback is not None and callback.kind in started_kinds
            and callback.options.get(ANNOUNCED_BACKUP) != backup_id)


def owed_deliveries(
    triggers: list[Trigger], backup: Backup, event: DeliveryEvent, policy: DeliveryPolicy, now: datetime,
    note: str | None = None,
) -> list[Delivery]:
    """One delivery per trigger that has a callback (and wants this event, and was not already told it)."""
    owing = [(t, t.callback) for t in triggers if t.callback is not None and (
        event is not DeliveryEvent.STARTED or owes_started(t, backup.id, policy.started_event_kinds))]
    bodies = result_documents([t for t, _ in owing], backup, note)
    give_up_at = now + timedelta(seconds=policy.budget_seconds)
    # Built from validated records, so constructed without validating each again (a storm owes thousands);
    # every field given, as pydantic inspects a default factory's signature on each construct.
    return [Delivery.model_construct(id=new_id("dlv"), trigger_id=trigger.id, event=event, target=target, body=body,
                                     state=DeliveryState.PENDING, attempts=[], created_at=now, next_attempt_at=now,
                                     give_up_at=give_up_at, delivered_at=None, last_error=None)
            for (trigger, target), body in zip(owing, bodies, strict=True)]
