"""Submitting a backup to SDDC Manager, never twice: post once, or adopt the task that is already running.

``submit_started_at`` is committed *before* the POST, so a worker that finds it set without a task id
never posts blindly again: it adopts the SDDCMANAGER_BACKUP task SDDC Manager is already running (or
that started since) instead. When SDDC Manager cannot say which backups run, nothing is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from .delivery_policy import DeliveryPolicy, owed_deliveries
from .errors import SddcManagerError
from .metrics import Metrics
from .models import Error, Task, TaskStatus
from .ports import Clock, SddcManager, Store
from .times import sddc_time
from .triggers import Backup, BackupState, DeliveryEvent, TriggerState
from .worker_config import WorkerConfig

log = logging.getLogger("webhook.worker")


class Submitter:
    """The submit half of the backup step; ``finish`` ends a backup that cannot be submitted."""

    def __init__(self, store: Store, clock: Clock, config: WorkerConfig, policy: DeliveryPolicy, metrics: Metrics,
                 sddc_of: Callable[[Backup], SddcManager], finish: Callable[[Backup], None]) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.policy = policy
        self.metrics = metrics
        self.owner = config.worker_id
        self.sddc_of = sddc_of
        self.finish = finish

    def submit(self, backup: Backup) -> None:
        now = self.clock.now()
        try:
            if backup.submit_started_at is not None:
                # An earlier attempt may have reached SDDC Manager: never post blindly again.
                task = self._adoptable_task(backup, backup.submit_started_at)
            else:
                # Someone else's backup (a schedule, a state-change backup) may be running: ride on it.
                task = self._running_backup_task(backup)
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
            self.metrics.submit_delay((self.clock.now() - rider.received_at).total_seconds(), backup.instance)
        try:
            started = self.sddc_of(backup).start_backup(backup.spec)
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
        if definitive and not _already_running(exc):
            self._adopt_or_fail(backup, exc, lambda: self._running_backup_task(backup), adopted=True)
            return
        if definitive:  # "already in progress": ride on that task, or try again until it is listed
            try:
                task = self._running_backup_task(backup)
            except SddcManagerError as check_failed:
                self._defer_submit(backup, check_failed)
                return
            if task is not None:
                self._mark_submitted(backup, task, self.clock.now(), adopted=True)
                return
        # 5xx, timeout, connection error: the outcome is unknown; the next pass checks before posting.
        if backup.submit_attempts >= self.config.submit_max_attempts:
            since = backup.submit_started_at or self.clock.now()
            self._adopt_or_fail(backup, exc, lambda: self._adoptable_task(backup, since), adopted=False)
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

    def _running_backup_task(self, backup: Backup) -> Task | None:
        for task in self.sddc_of(backup).list_backup_tasks():
            if task.normalized_status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                return task
        return None

    def _adoptable_task(self, backup: Backup, since: datetime) -> Task | None:
        """A backup task running now, or one created since our unconfirmed POST and not yet ours."""
        tasks = self.sddc_of(backup).list_backup_tasks()
        for task in tasks:
            if task.normalized_status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                return task
        horizon = since - timedelta(seconds=self.config.adopt_clock_skew)
        for task in tasks:
            created = sddc_time(task.creationTimestamp)
            if created is not None and created >= horizon and (
                    self.store.find_backup_by_task(task.id, backup.instance) is None):
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
        self.finish(backup)


def _already_running(exc: SddcManagerError) -> bool:
    """SDDC Manager's "a backup is already in progress" refusal (the task may not be listed yet)."""
    code = (exc.error.errorCode if exc.error else None) or ""
    return "ALREADY_IN_PROGRESS" in code.upper() or "already in progress" in exc.message.lower()
