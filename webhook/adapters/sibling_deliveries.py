"""A trigger's other deliveries (their outlines), read for a whole batch of first attempts in one query.

The Slack and run-task notifiers look at a trigger's other deliveries before they post (is the
result already owed? how many of Slack's 5 posts are left?). Read per attempt, that was one store
read per callback, as much CPU as the rest of the attempt. ``prepare`` reads them for the batch the
delivery loop has just claimed; ``of`` hands a delivery its trigger's snapshot once, if it is at most
``MAX_AGE`` seconds old and this is the delivery's first attempt, else reads afresh (a retry always).

A snapshot cannot overspend Slack's budget: the result delivery reserves, for a "started" delivery
still pending in the snapshot, its full share (2 posts), and a finished one's count no longer changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from ..core.ports import Store
from ..core.triggers import Delivery, DeliveryOutline

MAX_AGE = 1.0


class SiblingDeliveries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._read: dict[str, tuple[float, list[DeliveryOutline]]] = {}  # trigger id -> (when read, its deliveries)

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        ids = [d.trigger_id for d in deliveries if not d.attempts]
        if not ids:
            return
        found = self.store.delivery_outlines(ids)
        now = time.monotonic()
        with self._lock:
            for trigger_id in [k for k, (at, _) in self._read.items() if now - at > MAX_AGE]:
                del self._read[trigger_id]  # never asked for (dropped, or sent elsewhere)
            self._read.update((trigger_id, (now, found.get(trigger_id, []))) for trigger_id in ids)

    def of(self, delivery: Delivery) -> list[DeliveryOutline]:
        """The trigger's deliveries other than this one."""
        with self._lock:
            entry = self._read.pop(delivery.trigger_id, None)
        if entry is not None and not delivery.attempts and time.monotonic() - entry[0] <= MAX_AGE:
            found = entry[1]
        else:
            found = self.store.delivery_outlines([delivery.trigger_id])[delivery.trigger_id]
        return [d for d in found if d.id != delivery.id]

