"""The worker loop: attach → submit → poll → deliver, each step a transition recorded in the store.

A crash may happen between any two lines. Every step is safe to repeat, and the store's leases
are the only lock, so any number of workers (threads, processes, replicas) behave like one.
The dangerous step is submit: ``submit_started_at`` is committed *before* the POST, so a worker
that finds it set without a task id never posts blindly again: it adopts the SDDCMANAGER_BACKUP
task SDDC Manager is already running (or that started since) instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .deliveries import DeliveryPolicy, owed_deliveries
from .delivering import DeliveryStep
from .errors import SddcManagerError
from .metrics import Metrics, NullMetrics
from .models import Error, Task, TaskStatus
from .ports import Clock, Notifier, SddcManager, Store
from .triggers import Backup, BackupState, DeliveryEvent, Trigger, TriggerState, new_id

log = logging.getLogger("webhook.worker")


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str = field(default_factory=lambda: new_id("wrk"))
    lease_seconds: float = 60.0
    poll_initial: float = 2.0
    poll_max: float = 30.0
    backup_timeout: float = 3 * 3600.0
    submit_retry_delay: float = 10.0
    submit_max_attempts: int = 5
    adopt_clock_skew: float = 300.0
    task_not_found_grace: float = 60.0
    batch: int = 200
    idle_wait: float = 5.0
    retention: float | None = 90 * 86400.0
    prune_every: float = 3600.0
    # Stranded triggers only follow a crash or a race, so look for them now and then, not every pass:
    # the query reads every ATTACHED trigger, thousands while a storm rides on a long backup.
    sweep_every: float = 10.0
    heartbeat_every: float = 1.0
    # After a cycle fails unexpectedly, wait this long before the next one, doubling up to the max.
    error_backoff_initial: float = 1.0
    error_backoff_max: float = 30.0
    # After a wake-up, let a burst of triggers land so one cycle attaches them all.
    gather_seconds: float = 0.02
    # While a backup is in progress, new triggers only ride on it (no POST waits on them): gather
    # longer, so a storm costs a few passes a second instead of one per handful of triggers.
    ride_gather_seconds: float = 0.25
    # Callbacks sent are recorded together, one commit per this many or per this long (the first
    # waits at most that long). A crash can only resend what was sent in that window; a commit per
    # callback cost an fsync each, which set the pace of a storm's results.
    record_every: int = 20
    record_within: float = 0.1
    # An idle worker asks SDDC Manager something harmless this often, so the status page and the
    # reachability gauge see an outage before the next backup does (None: never; see core.reachability).
    sddc_probe_every: float | None = None


class Worker:
    def __init__(
        self,
        store: Store,
        sddc: SddcManager,
        notifier: Notifier,
        clock: Clock,
        config: WorkerConfig | None = None,
        delivery_policy: DeliveryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics: Metrics = metrics or NullMetrics()
        self.store = store
        self.sddc = sddc
        self.notifier = notifier
        self.clock = clock
        self.config = config or WorkerConfig()
        self.policy = delivery_policy or DeliveryPolicy()
        self._last_prune: datetime | None = None
        self._last_sweep: datetime | None = None
        self._riding = False  # the last attach put triggers on a backup already in progress
        self._last_beat: datetime | None = None
        self._deliveries = DeliveryStep(store, notifier, clock, self.config, self.policy, self.metrics)

    @property
    def owner(self) -> str:
        return self.config.worker_id

    # ---------------------------------------------------------------- loop
    def run_once(self) -> bool:
        """One pass over every kind of due work; True if a step left due work it had no room for.

        A pass that did some work but left none is not a reason to go again at once: under a steady
        stream of triggers that would spin the loop (a pass per handful of triggers, each paying
        every step's queries) and take the CPU the request path needs. New work rings the doorbell.
        """
        self._heartbeat()
        more = self.attach()
        more = self.advance_backups() or more
        more = self.complete_stranded() or more
        more = self.deliver() or more
        self.prune_history()
        self._probe_sddc()
        return more

    def _heartbeat(self) -> None:
        now = self.clock.now()
        if self._last_beat is None or (now - self._last_beat).total_seconds() >= self.config.heartbeat_every:
            self.store.heartbeat(self.owner, now)
            self._last_beat = now

    def _probe_sddc(self) -> None:
        probe = getattr(self.sddc, "probe", None)
        if self.config.sddc_probe_every and probe is not None:
            probe(self.config.sddc_probe_every)

    def prune_history(self) -> None:
        """Drop finished history past the retention, at most every ``prune_every`` seconds."""
        now = self.clock.now()
        if self.config.retention is None or (
                self._last_prune and (now - self._last_prune).total_seconds() < self.config.prune_every):
            return
        self._last_prune = now
        removed = self.store.prune(now - timedelta(seconds=self.config.retention))
        if any(removed.values()):
            log.info("history pruned", extra={"event": "store.pruned", **removed})

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Loop until ``stop``; sleep until woken by new work or the next due time."""
        wake = wake or threading.Event()
        failures = 0
        try:
            while not stop.is_set():
                try:
                    busy = self.run_once()
                    failures = 0
                except Exception:  # one bad cycle must not kill the loop; state is in the store
                    # Whatever failed is probably due again at once: back off, or the loop spins.
                    failures += 1
                    delay = self._error_backoff(failures)
                    log.exception("worker cycle failed", extra={"event": "worker.cycle_failed",
                                                                "failures": failures, "retry_in": delay})
                    stop.wait(delay)  # not ``wake``: new triggers must not cut the back-off short
                    continue
                if busy or stop.is_set():
                    continue
                gather = self.config.ride_gather_seconds if self._riding else self.config.gather_seconds
                if wake.wait(self._idle_seconds()) and gather:
                    stop.wait(gather)
                wake.clear()
        finally:
            self.store.release_leases(self.owner)

    def _error_backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed cycles: 1, 2, 4, ... up to the max."""
        initial, ceiling = self.config.error_backoff_initial, self.config.error_backoff_max
        return min(ceiling, initial * 2.0 ** min(failures - 1, 32))

    def _idle_seconds(self) -> float:
        try:
            due = self.store.next_due()
        except Exception:
            return self.config.idle_wait
        if due is None:
            return self.config.idle_wait
        return min(self.config.idle_wait, max(0.01, (due - self.clock.now()).total_seconds()))

    # ---------------------------------------------------------------- attach
    def attach(self) -> bool:
        """Attach waiting triggers to the running backup, or open one (coalescing); True if more wait."""
        pending = self.store.accepted_triggers(self.config.batch)
        if not pending:
            return False
        full = len(pending) >= self.config.batch
        now = self.clock.now()
        waiting: list[Trigger] = []
        for trigger in pending:
            if trigger.reuse_if_newer_than is not None and self._reuse_recent(trigger, now):
                continue
            waiting.append(trigger)
        if not waiting:
            return full
        active = self.store.active_backup()
        if active is None:
            active, created = self.store.open_backup(Backup(spec=waiting[0].spec, created_at=now))
            if created:
                log.info("backup opened", extra={"event": "backup.opened", "backup_id": active.id})
        riders = [t for t in waiting if t.spec.key() == active.spec_key]
        self._riding = bool(riders) and active.state is BackupState.IN_PROGRESS
        if riders:
            started: list = []
            if active.state is BackupState.IN_PROGRESS:
                started = owed_deliveries(riders, active, DeliveryEvent.STARTED, self.policy, now)
            attached = self.store.attach_triggers([t.id for t in riders], active.id, started)
            _log_batch("triggers attached", "trigger.attached", attached, backup_id=active.id)
        return full

    def _reuse_recent(self, trigger: Trigger, now: datetime) -> bool:
        since = now - timedelta(seconds=trigger.reuse_if_newer_than or 0)
        recent = self.store.latest_successful_backup(trigger.spec.key(), since)
        if recent is None or recent.completed_at is None:
            return False
        age = int((now - recent.completed_at).total_seconds())
        note = f"Reused backup {recent.id} (SDDC task {recent.sddc_task_id}), SUCCESSFUL {age} s ago; no new backup started."
        self._complete([trigger], recent, note)
        return True

    # ---------------------------------------------------------------- submit / poll
    def advance_backups(self) -> bool:
        now = self.clock.now()
        claimed = self.store.claim_backups(self.owner, now, self.config.lease_seconds, self.config.batch)
        ended = False
        for backup in claimed:
            try:
                if backup.state is BackupState.SUBMITTING:
                    self.submit(backup)
                else:
                    self.poll(backup)
            finally:
                self.store.release_backup(backup.id, self.owner)
            ended = ended or not backup.state.is_active
        if ended:
            self._riding = False
        # A backup that ended frees the slot: triggers for another spec can open theirs at once.
        return ended or len(claimed) >= self.config.batch

    def submit(self, backup: Backup) -> None:
        now = self.clock.now()
        try:
            if backup.submit_started_at is not None:
                # An earlier attempt may have reached SDDC Manager: never post blindly again.
                task = self._adoptable_task(backup.submit_started_at)
            else:
                # Someone else's backup (a schedule, a state-change backup) may be running: ride on it.
                task = self._running_backup_task()
        except SddcManagerError as exc:  # we could not check, so we must not post
            self._defer_submit(backup, exc)
            return
        if task is not None:
            self._mark_submitted(backup, task, now, adopted=backup.submit_started_at is None)
            return
        if backup.submit_started_at is not None and backup.submit_attempts >= self.config.submit_max_attempts:
            self._fail_submit(backup, Error(
                errorCode="VCFBACKUP_SUBMIT_FAILED",
                message=f"SDDC Manager did not accept the backup after {backup.submit_attempts} attempts.",
                remediationMessage="Check SDDC Manager health and the service log for the earlier errors.",
            ))
            return
        backup.submit_started_at = now
        backup.submit_attempts += 1
        if not self.store.save_backup(backup, self.owner):
            return
        for rider in self.store.triggers_of_backup(backup.id, TriggerState.ATTACHED):
            self.metrics.submit_delay((self.clock.now() - rider.received_at).total_seconds())
        try:
            started = self.sddc.start_backup(backup.spec)
        except SddcManagerError as exc:
            self._submit_refused(backup, exc)
            return
        if not started.id:
            self._fail_submit(backup, Error(errorCode="VCFBACKUP_NO_TASK_ID",
                                            message="SDDC Manager accepted the backup but returned no task id."))
            return
        backup.name = started.name
        backup.resources = started.resources or []
        self._mark_submitted(backup, Task(id=started.id, name=started.name, status=started.status or ""),
                             self.clock.now(), adopted=False)

    def _submit_refused(self, backup: Backup, exc: SddcManagerError) -> None:
        definitive = exc.http_status is not None and 400 <= exc.http_status < 500
        log.warning("backup submit failed", extra={"event": "backup.submit_failed", "backup_id": backup.id,
                                                   "http_status": exc.http_status, "error": exc.message})
        if definitive:  # "a backup is already running" refusals: ride on that one
            self._adopt_or_fail(backup, exc, self._running_backup_task, adopted=True)
            return
        # 5xx, timeout, connection error: the outcome is unknown; the next pass checks before posting.
        if backup.submit_attempts >= self.config.submit_max_attempts:
            since = backup.submit_started_at or self.clock.now()
            self._adopt_or_fail(backup, exc, lambda: self._adoptable_task(since), adopted=False)
            return
        backup.next_poll_at = self.clock.now() + timedelta(seconds=self.config.submit_retry_delay)
        backup.errors = [exc.as_sddc_error()]
        self.store.save_backup(backup, self.owner)

    def _adopt_or_fail(self, backup: Backup, refusal: SddcManagerError, find_task: Callable[[], Task | None],
                       *, adopted: bool) -> None:
        """Take the task ``find_task`` finds, else fail with ``refusal``; if SDDC Manager cannot say, ask later."""
        try:
            task = find_task()
        except SddcManagerError as check_failed:
            self._defer_submit(backup, check_failed)
            return
        if task is not None:
            self._mark_submitted(backup, task, self.clock.now(), adopted=adopted)
        else:
            self._fail_submit(backup, refusal.as_sddc_error())

    def _defer_submit(self, backup: Backup, exc: SddcManagerError) -> None:
        """SDDC Manager could not say which backups run: post nothing now and ask again later.

        No submit attempt is counted (this pass posted nothing). A backup older than
        ``backup_timeout`` fails instead, so its triggers get an answer rather than wait forever.
        """
        now = self.clock.now()
        fields = {"backup_id": backup.id, "http_status": exc.http_status, "error": exc.message}
        if (now - backup.created_at).total_seconds() > self.config.backup_timeout:
            log.warning("backup submit failed", extra={"event": "backup.submit_failed", **fields})
            self._fail_submit(backup, exc.as_sddc_error())
            return
        log.warning("backup submit deferred", extra={"event": "backup.submit_deferred", **fields,
                                                     "retry_in": self.config.submit_retry_delay})
        backup.errors = [exc.as_sddc_error()]
        backup.next_poll_at = now + timedelta(seconds=self.config.submit_retry_delay)
        self.store.save_backup(backup, self.owner)

    def _running_backup_task(self) -> Task | None:
        for task in self.sddc.list_backup_tasks():
            if task.normalized_status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                return task
        return None

    def _adoptable_task(self, since: datetime) -> Task | None:
        """A backup task running now, or one created since our unconfirmed POST and not yet ours."""
        tasks = self.sddc.list_backup_tasks()
        for task in tasks:
            if task.normalized_status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                return task
        horizon = since - timedelta(seconds=self.config.adopt_clock_skew)
        for task in tasks:
            created = _parse_time(task.creationTimestamp)
            if created is not None and created >= horizon and self.store.find_backup_by_task(task.id) is None:
                return task
        return None

    def _mark_submitted(self, backup: Backup, task: Task, now: datetime, *, adopted: bool) -> None:
        backup.state = BackupState.IN_PROGRESS
        backup.sddc_task_id = task.id
        backup.adopted = adopted
        backup.name = backup.name or task.name
        backup.sddc_status = task.status
        backup.submitted_at = backup.submitted_at or now
        backup.next_poll_at = now + timedelta(seconds=self.config.poll_initial)
        backup.errors = []
        if not self.store.save_backup(backup, self.owner):
            return
        log.info("backup in progress", extra={"event": "backup.submitted", "backup_id": backup.id,
                                              "sddc_task_id": task.id, "adopted": adopted})
        riders = self.store.triggers_of_backup(backup.id, TriggerState.ATTACHED)
        self.store.add_deliveries(owed_deliveries(riders, backup, DeliveryEvent.STARTED, self.policy, now))

    def _fail_submit(self, backup: Backup, error: Error) -> None:
        backup.state = BackupState.SUBMIT_FAILED
        backup.errors = [error]
        self._finish(backup)

    def poll(self, backup: Backup) -> None:
        now = self.clock.now()
        elapsed = (now - (backup.submitted_at or backup.created_at)).total_seconds()
        try:
            task = self.sddc.get_task(backup.sddc_task_id or "")
        except SddcManagerError as exc:
            backup.poll_failures += 1
            log.warning("task poll failed", extra={"event": "backup.poll_failed", "backup_id": backup.id,
                                                   "http_status": exc.http_status, "error": exc.message})
            if elapsed > self.config.backup_timeout:
                self._time_out(backup, elapsed)
                return
            backup.next_poll_at = now + timedelta(seconds=self._poll_interval(elapsed))
            self.store.save_backup(backup, self.owner)
            return
        status = task.normalized_status
        backup.sddc_status = task.status
        backup.name = task.name or backup.name
        backup.resources = task.resources or backup.resources
        if status.is_terminal:
            backup.state = {TaskStatus.CANCELLED: BackupState.CANCELLED}.get(
                status, BackupState.SUCCESSFUL if status.is_success else BackupState.FAILED)
            backup.errors = task.all_errors()
            if backup.state is not BackupState.SUCCESSFUL and not backup.errors:
                backup.errors = [Error(errorCode="VCFBACKUP_BACKUP_" + backup.state.value,
                                       message=f"SDDC Manager task {task.id} ended {task.status} without an error.",
                                       remediationMessage="Check the task in the SDDC Manager UI.")]
            self._finish(backup)
        elif elapsed > self.config.backup_timeout:
            self._time_out(backup, elapsed)
        else:
            backup.next_poll_at = now + timedelta(seconds=self._poll_interval(elapsed))
            self.store.save_backup(backup, self.owner)

    def _poll_interval(self, elapsed: float) -> float:
        # Grows with the age of the backup: quick answers for short backups, light load for long ones.
        return min(self.config.poll_max, max(self.config.poll_initial, elapsed * 0.1))

    def _time_out(self, backup: Backup, elapsed: float) -> None:
        backup.state = BackupState.TIMED_OUT
        backup.errors = [Error(
            errorCode="VCFBACKUP_BACKUP_TIMED_OUT",
            message=f"SDDC Manager task {backup.sddc_task_id} did not finish within {int(elapsed)} s "
                    f"(last status: {backup.sddc_status or 'unknown'}).",
            remediationMessage="Check the task in SDDC Manager; raise VCFBACKUP_BACKUP_TIMEOUT if backups "
                               "legitimately take longer.",
        )]
        self._finish(backup)

    def _finish(self, backup: Backup) -> None:
        backup.completed_at = self.clock.now()
        backup.next_poll_at = None
        if not self.store.save_backup(backup, self.owner):
            return
        log.info("backup ended", extra={"event": "backup.ended", "backup_id": backup.id,
                                        "sddc_task_id": backup.sddc_task_id, "state": backup.state.value})
        started = backup.submitted_at
        self.metrics.backup_ended(backup.state.value,
                                  (backup.completed_at - started).total_seconds() if started else None)
        self._complete(self.store.triggers_of_backup(backup.id, TriggerState.ATTACHED), backup, None)

    def _complete(self, triggers: list[Trigger], backup: Backup, note: str | None) -> None:
        if not triggers:
            return
        now = self.clock.now()
        for trigger in triggers:
            trigger.state, trigger.completed_at, trigger.backup_id = TriggerState.DONE, now, backup.id
            trigger.note = note or trigger.note
        owed = owed_deliveries(triggers, backup, DeliveryEvent.COMPLETED, self.policy, now, note)
        done = self.store.complete_triggers([t.id for t in triggers], backup.id, now, note, owed)
        _log_batch("triggers done", "trigger.done", done, backup_id=backup.id, state=backup.state.value)

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
                self._complete(triggers, backup, None)
        return len(stranded) >= self.config.batch

    # ---------------------------------------------------------------- deliver
    def deliver(self) -> bool:
        """Send the callbacks that are due; True if more are due than one pass takes."""
        return self._deliveries.run()


def _log_batch(message: str, event: str, trigger_ids: list[str], **fields: object) -> None:
    """One INFO line per batch (a storm of 1,000 triggers is two lines), one DEBUG line per trigger."""
    if not trigger_ids:
        return
    log.info(message, extra={"event": event, "count": len(trigger_ids), "trigger_ids": trigger_ids[:20], **fields})
    if log.isEnabledFor(logging.DEBUG):
        for trigger_id in trigger_ids:
            log.debug(message, extra={"event": event, "trigger_id": trigger_id, **fields})


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)
