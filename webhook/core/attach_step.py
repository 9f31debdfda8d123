"""The attach step: waiting triggers ride on the running backup, open one, or reuse a recent one.

Also sweeps triggers left ATTACHED to an ended backup (a crash or race between two steps). A trigger
that cannot be handled ends DONE with the reason instead of wedging every later pass.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from .completion import Completer, log_batch
from .delivery_policy import DeliveryPolicy, owed_deliveries
from .errors import StoreUnavailable
from .fanout import children
from .limits import MAX_DURATION_SECONDS
from .ports import Clock, Store
from .triggers import Backup, BackupState, Delivery, DeliveryEvent, Trigger
from .worker_config import WorkerConfig

log = logging.getLogger("webhook.worker")


class AttachStep:
    def __init__(self, store: Store, clock: Clock, config: WorkerConfig, policy: DeliveryPolicy,
                 completer: Completer) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.policy = policy
        self.completer = completer
        self.riding = False  # the last attach put triggers on a backup already in progress
        self._last_sweep: datetime | None = None

    def attach(self) -> bool:
        """Attach waiting triggers to their instance's running backup, or open one (coalescing per
        instance); split fan-out triggers into one child per instance. True if more wait.

        Riders that need nothing of their own (no fan-out, no reuse window, no "started" message
        owed) go first, set-based in one write; only the rest are read into models one by one.
        """
        riders, more = self.store.attach_riders(self.policy.started_event_kinds, self.config.batch)
        for backup_id, _, ids in riders:
            log_batch("triggers attached", "trigger.attached", ids, backup_id=backup_id)
        full = sum(len(ids) for _, _, ids in riders) >= self.config.batch
        pending = self.store.accepted_triggers(self.config.batch) if more and not full else []
        if riders or pending:
            self.riding = any(running for _, running, _ in riders)
        if full or not pending:
            return full
        full = len(pending) >= self.config.batch
        now = self.clock.now()
        waiting: dict[str, list[Trigger]] = {}
        for trigger in pending:
            try:
                if trigger.is_fanout:
                    fresh = self.store.fan_out(trigger.id, children(trigger))
                    if fresh is not None:
                        log.info("trigger fanned out", extra={"event": "trigger.fanned_out", "trigger_id": trigger.id,
                                                              "instances": trigger.targets})
                        for child in fresh:  # attach them in this pass (older ones come with the next)
                            waiting.setdefault(child.instance, []).append(child)
                        full = full or len(fresh) < len(trigger.targets or [])
                    continue
                if trigger.reuse_if_newer_than is not None and self._reuse_recent(trigger, now):
                    continue
            except StoreUnavailable:
                raise
            except Exception as exc:  # this trigger only: it ends with the reason, the others go on
                self.completer.fail(trigger, exc, now)
                continue
            waiting.setdefault(trigger.instance, []).append(trigger)
        if len(waiting) > 1:
            self._attach_fleet(waiting, now)
            return full
        for instance, triggers in waiting.items():
            self._attach_on(instance, triggers, now)
        return full

    def _attach_fleet(self, waiting: dict[str, list[Trigger]], now: datetime) -> None:
        """Triggers for several instances (a fan-out's children): one read and two commits for all of them."""
        actives = self.store.active_backups(list(waiting))
        opening = [Backup(spec=triggers[0].spec, created_at=now, instance=instance)
                   for instance, triggers in waiting.items() if instance not in actives]
        opened = [backup for backup, created in self.store.open_backups(opening) if created] if opening else []
        if opened:
            log.info("backups opened", extra={"event": "backup.opened", "count": len(opened),
                                              "backup_ids": [b.id for b in opened[:20]]})
        actives = self.store.active_backups(list(waiting)) if opening else actives
        plan: list[tuple[list[str], str, list[Delivery]]] = []
        for instance, triggers in waiting.items():
            active = actives.get(instance)
            if active is None:  # ended between the two reads: the next pass opens a new one
                continue
            riders = [t for t in triggers if t.spec.key() == active.spec_key]
            if not riders:
                continue
            running = active.state is BackupState.IN_PROGRESS
            self.riding = self.riding or running
            started = owed_deliveries(riders, active, DeliveryEvent.STARTED, self.policy, now) if running else []
            plan.append(([t.id for t in riders], active.id, started))
        attached = self.store.attach_many(plan)
        log_batch("triggers attached", "trigger.attached", attached, instances=len(plan))

    def _attach_on(self, instance: str, waiting: list[Trigger], now: datetime) -> None:
        active = self.store.active_backup(instance)
        if active is None:
            active, created = self.store.open_backup(Backup(spec=waiting[0].spec, created_at=now, instance=instance))
            if created:
                log.info("backup opened", extra={"event": "backup.opened", "backup_id": active.id,
                                                 "instance": instance})
        riders = [t for t in waiting if t.spec.key() == active.spec_key]
        self.riding = self.riding or (bool(riders) and active.state is BackupState.IN_PROGRESS)
        if riders:
            started: list[Delivery] = []
            if active.state is BackupState.IN_PROGRESS:
                started = owed_deliveries(riders, active, DeliveryEvent.STARTED, self.policy, now)
            attached = self.store.attach_triggers([t.id for t in riders], active.id, started)
            log_batch("triggers attached", "trigger.attached", attached, backup_id=active.id)

    def _reuse_recent(self, trigger: Trigger, now: datetime) -> bool:
        # Validation bounds the window; the clamp keeps a row stored before that bound from overflowing.
        window = min(trigger.reuse_if_newer_than or 0.0, MAX_DURATION_SECONDS)
        recent = self.store.latest_successful_backup(trigger.spec.key(), now - timedelta(seconds=window),
                                                     trigger.instance)
        if recent is None or recent.completed_at is None:
            return False
        age = int((now - recent.completed_at).total_seconds())
        note = (f"Reused backup {recent.id} (SDDC task {recent.sddc_task_id}), SUCCESSFUL {age} s ago; "
                "no new backup started.")
        self.completer.complete([trigger], recent, note)
        return True

    def complete_stranded(self) -> bool:
        """Finish triggers left ATTACHED to an ended backup (a crash or race between two steps)."""
        now = self.clock.now()
        if self._last_sweep and (now - self._last_sweep).total_seconds() < self.config.sweep_every:
            return False
        stranded = self.store.stranded_triggers(self.config.batch)
        if len(stranded) < self.config.batch:  # a full batch: sweep again on the next pass
            self._last_sweep = now
        by_backup: dict[str, list[Trigger]] = {}
        for trigger in stranded:
            by_backup.setdefault(trigger.backup_id or "", []).append(trigger)
        for backup_id, triggers in by_backup.items():
            backup = self.store.get_backup(backup_id)
            if backup is not None and not backup.state.is_active:
                self.completer.complete(triggers, backup, None)
        return len(stranded) >= self.config.batch
