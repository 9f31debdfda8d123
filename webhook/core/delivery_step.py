"""The deliver step: send the callbacks that are due, apart from submit and poll, and record them.

Callbacks run on their own threads (``DeliveryLoop``, delivery_loop.py), at most ``delivery_threads``
attempts at once and ``delivery_per_host`` to one host, so a receiver that sleeps or trickles holds up
only its own callbacks, never a backup's submit or poll. Each attempt starts only while this worker's
lease on the delivery still covers the notifier's bound on one attempt plus the time to record it:
without a crash no other worker, on any node, can take it while it is in flight, so no callback is
sent twice.

Attempts are recorded a few at a time (``record_every``, or ``record_within`` after the first):
a commit per callback was an fsync each on the core the request path needs. That window is what a
crash can resend. Callback secrets kept for a final word are erased once its attempt is recorded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from .completion import reference_token
from .delivery_policy import DeliveryPolicy
from .errors import StoreUnavailable
from .metrics import Metrics
from .ports import Clock, Notifier, Store
from .results import result_document
from .triggers import AttemptResult, Delivery, DeliveryAttempt, DeliveryEvent, DeliveryState, RecordedAttempt
from .worker_config import WorkerConfig

log = logging.getLogger("webhook.worker")

class DeliveryStep:
    """One delivery attempt and its record; the synchronous pass tests and ``Worker.run_once`` use."""

    def __init__(self, store: Store, notifier: Notifier, clock: Clock, config: WorkerConfig,
                 policy: DeliveryPolicy, metrics: Metrics) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.config = config
        self.policy = policy
        self.metrics = metrics
        self.owner = config.worker_id
        self.unrecorded = _Unrecorded()
        self._lock = threading.Lock()

    def run(self) -> bool:
        """Send what is due on this thread, then record it; True if more is due than one pass takes."""
        claimed = self.store.claim_deliveries(self.owner, self.clock.now(), self.config.lease_seconds,
                                              self.config.batch)
        self.prepare(claimed)
        try:
            for delivery in claimed:
                if self.stands(delivery):
                    self.attempt(delivery)
                    self.record_if_due()
        finally:  # whatever was sent is recorded, even if a later step failed
            self.record()
        return len(claimed) >= self.config.batch

    def prepare(self, deliveries: list[Delivery]) -> None:
        """Tell the notifier which deliveries are about to go (one store read for what they all need)."""
        prepare = getattr(self.notifier, "prepare", None)
        if prepare is not None and deliveries:
            try:
                prepare(deliveries)
            except StoreUnavailable:
                raise
            except Exception:  # only a shortcut: each attempt reads for itself
                log.exception("delivery batch not prepared", extra={"event": "delivery.prepare_failed"})

    def stands(self, delivery: Delivery) -> bool:
        """Whether to attempt it now; one that cannot even be looked at gives up with the reason."""
        try:
            return delivery.event is not DeliveryEvent.DEADLINE or self._deadline_stands(delivery)
        except StoreUnavailable:
            raise
        except Exception as exc:  # this delivery only: the others go on
            self._give_up(delivery, exc)
            return False

    def _give_up(self, delivery: Delivery, exc: Exception) -> None:
        token = reference_token()
        log.error("delivery could not be handled", exc_info=exc, extra={
            "event": "delivery.failed", "delivery_id": delivery.id, "referenceToken": token})
        now = self.clock.now()
        error = f"could not be handled: {type(exc).__name__} (referenceToken {token})"
        with self._lock:
            self.unrecorded.add(RecordedAttempt(delivery_id=delivery.id, attempt=DeliveryAttempt(at=now, error=error),
                                                state=DeliveryState.GAVE_UP, last_error=error), now)

    def attempt(self, delivery: Delivery) -> None:
        """Send once and keep the outcome for the next record; never raises (a bad item ends GAVE_UP)."""
        started = self.clock.now()
        try:
            result = self.notifier.send(delivery)
        except Exception as exc:  # a notifier bug must not wedge the loop: this delivery gives up
            token = reference_token()
            log.exception("notifier failed", extra={"event": "delivery.notifier_failed", "delivery_id": delivery.id,
                                                    "referenceToken": token})
            result = AttemptResult(ok=False, error=f"notifier error: {type(exc).__name__} (referenceToken {token})",
                                   permanent=True)
        finished = self.clock.now()
        attempt = DeliveryAttempt(at=started, status_code=result.status_code, error=result.error,
                                  duration_ms=int((finished - started).total_seconds() * 1000))
        state, next_at = self.policy.next_state(delivery, result, finished)
        forget = delivery.target.options.get("forget_after_final")
        final = state is not DeliveryState.PENDING and delivery.event is not DeliveryEvent.STARTED
        with self._lock:
            # The final word is out (or never will be): secrets kept only for it go with its record.
            self.unrecorded.add(RecordedAttempt(delivery_id=delivery.id, attempt=attempt, state=state,
                                                next_attempt_at=next_at,
                                                last_error=None if result.ok else result.error,
                                                forget_options=list(forget) if forget and final else []), finished)
        outcome = {DeliveryState.DELIVERED: "delivered", DeliveryState.GAVE_UP: "gave_up"}.get(state, "retry")
        self.metrics.delivery(delivery.target.kind, outcome, len(delivery.attempts) + 1)
        fields = {"event": "delivery.attempt", "trigger_id": delivery.trigger_id, "delivery_id": delivery.id,
                  "status_code": result.status_code, "state": state.value, "error": result.error}
        # A failure keeps its own line; successes are logged per record (``record``), each one at DEBUG.
        (log.debug if state is DeliveryState.DELIVERED else log.info)("delivery attempt", extra=fields)

    def record_due(self) -> float | None:
        """Seconds until the unrecorded attempts must be recorded (0: now), or None if there are none."""
        with self._lock:
            return self.unrecorded.due_in(self.clock.now(), self.config.record_every, self.config.record_within)

    def record_if_due(self) -> float | None:
        """Record now if it is time; else the seconds until it will be (None: nothing unrecorded)."""
        due = self.record_due()
        if due is not None and due <= 0:
            self.record()
            return None
        return due

    def record(self) -> None:
        with self._lock:
            batch, self.unrecorded = self.unrecorded, _Unrecorded()
        if batch.attempts:
            self.store.record_attempts(self.owner, batch.attempts)
            delivered = [a.delivery_id for a in batch.attempts if a.state is DeliveryState.DELIVERED]
            if delivered:  # one INFO line per record (a storm's 10,000 results: ~500 lines, not 10,000)
                log.info("deliveries delivered", extra={"event": "delivery.delivered", "count": len(delivered),
                                                        "delivery_ids": delivered[:20]})

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
    """Attempts sent but not yet recorded."""

    attempts: list[RecordedAttempt] = field(default_factory=list)
    since: datetime | None = None

    def add(self, attempt: RecordedAttempt, at: datetime) -> None:
        self.attempts.append(attempt)
        self.since = self.since or at

    def due_in(self, now: datetime, every: int, within: float) -> float | None:
        if not self.attempts or self.since is None:
            return None
        if len(self.attempts) >= every:
            return 0.0
        return max(0.0, within - (now - self.since).total_seconds())
