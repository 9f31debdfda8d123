"""The request-path side of the core: accept a trigger durably, answer status questions.

Nothing here calls SDDC Manager: a trigger is stored (committed) before the caller hears 2xx,
and the worker does the rest. Waiting callers wait on the store, not on a socket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .callbacks import CallbackPolicy
from .delivery_policy import ANNOUNCED_BACKUP
from .errors import NotFound, ServiceError, StoreUnavailable
from .fanout import fanout_document
from .fleet import Fleet, UnknownTarget
from .instances import InstanceStatus, instance_statuses
from .intake import Intake
from .metrics import Metrics, NullMetrics
from .models import BackupSpec, default_spec
from .ports import Clock, Store
from .results import result_document
from .triggers import Backup, Delivery, Trigger, TriggerState
from .views import Receipt, RunningBackup, TriggerView

__all__ = ["Readiness", "Receipt", "TriggerService", "TriggerView"]

log = logging.getLogger("webhook.service")
_EPOCH = datetime.fromtimestamp(0, UTC)
# How long the request path trusts its last read of an instance's running backup. A stale answer
# changes only what an acknowledgement says (the worker attaches by the backup's id, and posts the
# start of any other); the read, after every commit's page-cache reset, cost more than the rest of
# the lookup under load (and a round trip on PostgreSQL).
RUNNING_FRESH_SECONDS = 0.25


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str]
    instances: dict[str, str] | None = None  # each SDDC Manager's reachability (reported, never "not ready")


class TriggerService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        callback_policy: CallbackPolicy,
        *,
        wake: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        max_waiters: int = 8,
        fleet: Fleet | None = None,
        reachability: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.metrics: Metrics = metrics or NullMetrics()
        self.fleet = fleet or Fleet.single()
        self.reachability = reachability
        self.store = store
        self.clock = clock
        self.callback_policy = callback_policy
        self._wake = wake or (lambda: None)
        # Each ?wait= holds a request thread: at most this many at once, so waiting callers can never
        # take every thread from /healthz, /readyz and new triggers. The rest get the state at once.
        self._waiters = threading.BoundedSemaphore(max(1, max_waiters))
        self._running: dict[str, tuple[float, RunningBackup | None]] = {}  # instance -> (read at, answer)

    def accept(self, trigger: Trigger, owed: Sequence[Delivery] = (),
               audit: Mapping[str, object] | None = None) -> Receipt:
        """Store the trigger (idempotent on caller + dedupe key) and wake a worker.

        ``owed``: deliveries a new trigger owes from the start, stored in the same transaction.
        ``audit``: the way in's own fields for the request's one audit line.
        """
        if trigger.callback is not None and trigger.callback.kind == "webhook":
            self.callback_policy.check(trigger.callback.url)
        try:
            stored, created = self.store.add_trigger(trigger, owed)
        except ServiceError:
            raise
        except Exception as exc:  # the store adapter failed in a way it did not classify
            raise StoreUnavailable(f"The trigger could not be stored: {type(exc).__name__}.") from exc
        # A rider stored ATTACHED (``intake_riders``) leaves the worker nothing to do now, unless it owes a message.
        if created and (stored.state is not TriggerState.ATTACHED or owed):
            self._wake()
        self.metrics.trigger(trigger.source, "accepted" if created else "duplicate")
        riding = {"backup_id": stored.backup_id} if created and stored.backup_id else {}
        log.info("trigger accepted" if created else "duplicate trigger", extra={
            **(audit or {}), "event": "trigger.accepted" if created else "trigger.duplicate", "trigger_id": stored.id,
            "source": stored.source, "caller": stored.caller, **riding})
        return Receipt(stored, created)

    def take(self, intake: Intake) -> Receipt:
        """Store what a source asked for: accepted (and a worker woken), or knowingly skipped."""
        try:
            self.fleet.route(intake.trigger)
        except UnknownTarget as exc:
            if intake.unknown_target != "skip":
                raise
            log.warning("trigger refused", extra={"event": "trigger.unknown_target", "source": intake.trigger.source,
                                                  "reason": exc.message, "route": intake.route_hint})
            hint = f" ({intake.route_hint})" if intake.route_hint else ""
            intake.skip_reason, intake.skip_label = f"Refused{hint}: {exc.message}", "unknown_target"
            intake.trigger.target = intake.trigger.selector = None
        if intake.skip_reason is None:
            riding = self._running_to_announce(intake)
            receipt = self.accept(intake.trigger, intake.owed, intake.audit)
            receipt.riding = riding if receipt.created else None
            return receipt
        intake.trigger.note = intake.skip_reason
        receipt = self.skip(intake.trigger, intake.skip_label, intake.owed, intake.audit)
        if intake.owed:
            self._wake()  # a skipped trigger may still owe a delivery at once (a run task's "passed")
        return receipt

    def _running_to_announce(self, intake: Intake) -> RunningBackup | None:
        """The backup in progress this trigger will ride, if the answer may name it (marked on its callback).

        Marked, the trigger owes no "started" message when the worker attaches it to that backup; one
        that ends meanwhile leaves the trigger to open another, whose start is then posted as usual.
        """
        trigger = intake.trigger
        if (not intake.announce_running or trigger.callback is None or trigger.is_fanout
                or trigger.reuse_if_newer_than is not None):
            return None
        running = self._running_backup(trigger.instance)
        if running is None or running.spec_key != trigger.spec.key():
            return None
        trigger.callback.options[ANNOUNCED_BACKUP] = running.id
        return running

    def _running_backup(self, instance: str) -> RunningBackup | None:
        now = self.clock.now().timestamp()
        read_at, running = self._running.get(instance, (0.0, None))
        if not 0 <= now - read_at < RUNNING_FRESH_SECONDS:
            running = self.store.running_backup(instance)
            self._running[instance] = (now, running)
        return running

    def skip(self, trigger: Trigger, reason: str = "skipped", owed: Sequence[Delivery] = (),
             audit: Mapping[str, object] | None = None) -> Receipt:
        """Record a trigger that knowingly starts nothing (duplicate, cooldown, resolved alert).

        ``reason`` is a short, low-cardinality label for metrics; the detail goes in ``trigger.note``.
        """
        stored, created = self.store.skip_trigger(trigger, owed)
        self.metrics.trigger(trigger.source, "skipped" if created else "duplicate", reason)
        log.info("trigger skipped", extra={
            **(audit or {}), "event": "trigger.skipped", "trigger_id": stored.id, "source": stored.source,
            "caller": stored.caller, "reason": reason, "note": stored.note, "duplicate": not created})
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
        view = TriggerView(trigger, document, self.store.deliveries_of_trigger(trigger.id), backup)
        if trigger.is_fanout:
            view.fanout = self.fanout_progress(trigger)
        return view

    def fanout_progress(self, trigger: Trigger) -> dict[str, Any]:
        """A fan-out trigger's results so far (``outcome`` pending until every instance ended)."""
        kids = self.store.children_of(trigger.id)
        backups = self.store.backups_by_id([k.backup_id for k in kids if k.backup_id])
        document = fanout_document(trigger, [(k, backups.get(k.backup_id or "")) for k in kids])
        waiting = len(kids) < len(trigger.targets or []) or any(
            k.state not in (TriggerState.DONE, TriggerState.SKIPPED) for k in kids)
        return {"outcome": "pending" if waiting else document["outcome"], "results": document["results"]}

    def wait(self, trigger_id: str, seconds: float, *, poll: float = 0.1) -> TriggerView:
        """Block until the trigger is finished or ``seconds`` pass; reads only the store.

        When ``max_waiters`` callers already wait, answer at once (the caller sees 202 and asks again).
        """
        deadline = time.monotonic() + max(0.0, seconds)
        view = self.view(trigger_id)
        if view.finished or not self._waiters.acquire(blocking=False):
            return view
        try:
            while not view.finished and time.monotonic() < deadline:
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
                poll = min(poll * 1.5, 1.0)
                view = self.view(trigger_id)
        finally:
            self._waiters.release()
        return view

    def recent_correlated(self, source: str, correlation_key: str, since: datetime) -> Trigger | None:
        """The cooldown lookup: the latest trigger of ``source`` with this correlation key since ``since``."""
        return self.store.recent_correlated(source, correlation_key, since)

    def history(
        self, *, source: str | None = None, state: TriggerState | None = None, since: datetime | None = None,
        limit: int = 50, before_id: str | None = None, caller: str | None = None, instance: str | None = None,
    ) -> list[Trigger]:
        return self.store.list_triggers(source=source, state=state, since=since, limit=limit, before_id=before_id,
                                        caller=caller, instance=instance)

    def audit_page(
        self, *, source: str | None = None, state: TriggerState | None = None, since: datetime | None = None,
        limit: int = 50, before_id: str | None = None, caller: str | None = None, instance: str | None = None,
    ) -> list[TriggerView]:
        """A page of the audit trail with each trigger's backup and deliveries, in three reads whatever its size."""
        found = self.history(source=source, state=state, since=since, limit=limit, before_id=before_id,
                             caller=caller, instance=instance)
        backups = self.store.backups_by_id([t.backup_id for t in found if t.backup_id])
        deliveries = self.store.deliveries_of_triggers([t.id for t in found])
        views = []
        for trigger in found:
            backup = backups.get(trigger.backup_id) if trigger.backup_id else None
            document = result_document(trigger, backup) if backup else None
            views.append(TriggerView(trigger, document, deliveries.get(trigger.id, []), backup))
        return views

    def latest_backup(self, spec: BackupSpec | None = None) -> Backup | None:
        """The latest SUCCESSFUL backup of ``spec`` (the default one unless told), whoever asked for it."""
        return self.store.latest_successful_backup((spec or default_spec()).key(), _EPOCH)

    def instances(self) -> list[InstanceStatus]:
        """Every instance of the fleet with its latest backup and latest SUCCESSFUL one (read-only)."""
        return instance_statuses(self.fleet, self.store, self.clock.now())

    def readiness(self, stale_after: float) -> Readiness:
        """Ready when the store answers and accepts a write, and a worker loop has beaten within
        ``stale_after`` seconds without its recent cycles failing."""
        checks: dict[str, str] = {}
        ready = True
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # any failure means not ready; the detail is for the operator
            checks["store"] = f"unavailable ({type(exc).__name__})"
            ready = False
        else:
            try:  # a store that answers reads but refuses writes cannot accept a single trigger
                self.store.check_writable()
            except Exception as exc:
                checks["store"] = f"answers but refuses writes ({_cause(exc)})"
                ready = False
        try:
            beat = self.store.last_heartbeat()
        except Exception:
            beat = None
        if beat is None:
            checks["worker"] = "no worker heartbeat"
            ready = False
        else:
            age = (self.clock.now() - beat).total_seconds()
            checks["worker"] = f"heartbeat {age:.1f} s ago"
            if age > stale_after:
                ready = False
        try:
            faults = self.store.worker_faults()
        except Exception:
            faults = []
        if faults:  # beating, but its cycles keep failing: nothing advances
            checks["worker"] = "; ".join(faults[:3])
            ready = False
        return Readiness(ready, checks, self.reachability() if self.reachability else None)

    def last_heartbeat(self) -> datetime | None:
        return self.store.last_heartbeat()


def _cause(exc: Exception) -> str:
    cause = exc.__cause__ or exc
    return type(getattr(cause, "orig", None) or cause).__name__
