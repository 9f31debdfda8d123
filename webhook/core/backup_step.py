"""The backup step: submit a backup to SDDC Manager (never twice), then poll its task to the end.

The dangerous step is submit: ``submit_started_at`` is committed *before* the POST, so a worker
that finds it set without a task id never posts blindly again: it adopts the SDDCMANAGER_BACKUP
task SDDC Manager is already running (or that started since) instead. A backup the step cannot
handle (an unexpected error, not SDDC Manager's or the store's) ends FAILED with the reason, and
its triggers hear so, instead of failing every later pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from .completion import Completer, reference_token
from .delivery_policy import DeliveryPolicy, owed_deliveries
from .errors import SddcManagerError, StoreUnavailable
from .fleet import DEFAULT
from .metrics import Metrics
from .models import Error, Task, TaskStatus
from .ports import Clock, SddcManager, Store
from .times import sddc_time
from .triggers import Backup, BackupState, DeliveryEvent, TriggerState
from .worker_config import WorkerConfig

log = logging.getLogger("webhook.worker")


class BackupStep:
    """Submits and polls backups; with several instances, each instance's work runs on its own thread.

    With one SDDC Manager a pass does its work in line (as it always did). With a fleet, each
    instance's claimed backups go to a bounded pool and the pass returns at once: an instance that
    is slow or unreachable holds one thread until its client's timeout, never the other instances
    (nor the loop that attaches new triggers). An instance has at most one job in flight.
    """

    def __init__(self, store: Store, sddc: SddcManager | Mapping[str, SddcManager], clock: Clock,
                 config: WorkerConfig, policy: DeliveryPolicy, metrics: Metrics, completer: Completer) -> None:
        self.store = store
        self.sddcs: Mapping[str, SddcManager] = sddc if isinstance(sddc, Mapping) else {DEFAULT: sddc}
        self.clock = clock
        self.config = config
        self.policy = policy
        self.metrics = metrics
        self.completer = completer
        self.owner = config.worker_id
        self.notify: Callable[[], None] = lambda: None  # the loop's wake-up, when a job of the pool ends
        self._pool: ThreadPoolExecutor | None = None
        self._busy: set[str] = set()
        self._jobs: set[Future[None]] = set()
        self._ended = False
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> bool:
        """Some instance's job is still out (parallel mode only)."""
        return bool(self._busy)

    @property
    def parallel(self) -> bool:
        return len(self.sddcs) > 1

    def _sddc(self, backup: Backup) -> SddcManager:
        try:
            return self.sddcs[backup.instance]
        except KeyError:
            raise LookupError(f"instance {backup.instance!r} is no longer configured") from None

    def advance(self) -> tuple[bool, bool]:
        """Submit or poll every claimed backup: (more may be due, some backup ended)."""
        now = self.clock.now()
        claimed = self.store.claim_backups(self.owner, now, self.config.lease_seconds, self.config.batch)
        if self.parallel:
            return self._dispatch(claimed)
        ended = False
        for backup in claimed:
            try:
                self._advance_one(backup)
            finally:
                self.store.release_backup(backup.id, self.owner)
            ended = ended or not backup.state.is_active
        # A backup that ended frees the slot: triggers for another spec can open theirs at once.
        return ended or len(claimed) >= self.config.batch, ended

    def _dispatch(self, claimed: list[Backup]) -> tuple[bool, bool]:
        by_instance: dict[str, list[Backup]] = {}
        for backup in claimed:
            by_instance.setdefault(backup.instance, []).append(backup)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.config.instance_threads, thread_name_prefix="instance")
            for instance, backups in by_instance.items():
                if instance in self._busy:  # its job is still out: claim these again on a later pass
                    for backup in backups:
                        self.store.release_backup(backup.id, self.owner)
                    continue
                self._busy.add(instance)
                job = self._pool.submit(self._run_instance, instance, backups)
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)
            ended, self._ended = self._ended, False
        return ended or len(claimed) >= self.config.batch, ended

    def _run_instance(self, instance: str, backups: list[Backup]) -> None:
        ended = False
        try:
            for backup in backups:
                try:
                    self._advance_one(backup)
                except Exception:  # the store failed: the lease lapses, a later pass tries again
                    log.exception("backup step failed", extra={"event": "backup.step_failed", "backup_id": backup.id,
                                                               "instance": instance})
                finally:
                    try:
                        self.store.release_backup(backup.id, self.owner)
                    except Exception:
                        log.warning("lease not released", extra={"event": "backup.release_failed",
                                                                 "backup_id": backup.id})
                ended = ended or not backup.state.is_active
        finally:
            with self._lock:
                self._busy.discard(instance)
                self._ended = self._ended or ended
            self.notify()

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the jobs in flight (tests and shutdown)."""
        wait(list(self._jobs), timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # a hung instance: its timeout ends it
            self._pool = None

    def _advance_one(self, backup: Backup) -> None:
        try:
            if backup.state is BackupState.SUBMITTING:
                self.submit(backup)
            else:
                self.poll(backup)
        except StoreUnavailable:
            raise
        except Exception as exc:  # this backup only: the loop goes on with the others
            self._unexpected(backup.id, exc)

    def _unexpected(self, backup_id: str, exc: Exception) -> None:
        """Retry a backup that raised something unexpected later; after a few times, end it FAILED.

        The stored row is reloaded: the failed step may have changed the object half way. A submit
        that raised stays safe to repeat (``submit_started_at`` is set: the next try adopts, not posts).
        """
        token = reference_token()
        log.error("backup could not be handled", exc_info=exc, extra={
            "event": "backup.unexpected_error", "backup_id": backup_id, "referenceToken": token})
        backup = self.store.get_backup(backup_id)
        if backup is None or not backup.state.is_active:
            return
        error = Error(errorCode="VCFBACKUP_INTERNAL_ERROR", referenceToken=token,
                      message=f"The service could not handle this backup ({type(exc).__name__}).",
                      remediationMessage="Check the task in SDDC Manager; report the referenceToken to the "
                                         "operators of this service.")
        backup.poll_failures += 1
        backup.errors = [error]
        if backup.poll_failures >= self.config.submit_max_attempts:
            backup.state = BackupState.FAILED
            self._finish(backup)
            return
        backup.next_poll_at = self.clock.now() + timedelta(seconds=self.config.submit_retry_delay)
        self.store.save_backup(backup, self.owner)

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
            started = self._sddc(backup).start_backup(backup.spec)
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
        for task in self._sddc(backup).list_backup_tasks():
            if task.normalized_status in (TaskStatus.PENDING, TaskStatus.IN_PROGRESS):
                return task
        return None

    def _adoptable_task(self, backup: Backup, since: datetime) -> Task | None:
        """A backup task running now, or one created since our unconfirmed POST and not yet ours."""
        tasks = self._sddc(backup).list_backup_tasks()
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
        self._finish(backup)

    def poll(self, backup: Backup) -> None:
        now = self.clock.now()
        elapsed = (now - (backup.submitted_at or backup.created_at)).total_seconds()
        try:
            task = self._sddc(backup).get_task(backup.sddc_task_id or "")
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
                                  (backup.completed_at - started).total_seconds() if started else None,
                                  backup.instance)
        # A page at a time (10,000 riders must not sit in memory); after a crash the attach step's sweep ends the rest.
        seen: set[str] = set()
        while riders := self.store.triggers_of_backup(backup.id, TriggerState.ATTACHED, limit=self.config.batch):
            if seen.intersection(t.id for t in riders):
                break  # not finished by the last page (another worker's lease?): the sweep will see to it
            seen.update(t.id for t in riders)
            self.completer.complete(riders, backup, None)


def _already_running(exc: SddcManagerError) -> bool:
    """SDDC Manager's "a backup is already in progress" refusal (the task may not be listed yet)."""
    code = (exc.error.errorCode if exc.error else None) or ""
    return "ALREADY_IN_PROGRESS" in code.upper() or "already in progress" in exc.message.lower()
