"""The backup step: submit a backup to SDDC Manager (never twice: ``submit_step``), then poll its task to the end.

With a fleet, each instance's backups run on their own thread (``instance_pool``). A backup the step cannot
handle (an unexpected error, not SDDC Manager's or the store's) ends FAILED with the reason, and
its triggers hear so, instead of failing every later pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from .completion import Completer, reference_token
from .delivery_policy import DeliveryPolicy
from .errors import SddcManagerError, StoreUnavailable
from .fleet import DEFAULT
from .instance_pool import InstancePool
from .metrics import Metrics
from .models import Error, TaskStatus
from .ports import Clock, SddcManager, Store
from .submit_step import Submitter
from .triggers import Backup, BackupState, TriggerState
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
        self.submitter = Submitter(store, clock, config, policy, metrics, self._sddc, self._finish)
        self.instances = InstancePool(config.instance_threads, self._advance_one,
                                      lambda backup_id: self.store.release_backup(backup_id, self.owner))

    @property
    def in_flight(self) -> bool:
        """Some instance's job is still out (parallel mode only)."""
        return self.instances.in_flight

    @property
    def notify(self) -> Callable[[], None]:
        return self.instances.notify

    @notify.setter
    def notify(self, wake: Callable[[], None]) -> None:
        self.instances.notify = wake

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
        ended = self.instances.dispatch(claimed)
        return ended or len(claimed) >= self.config.batch, ended

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the jobs in flight (tests and shutdown)."""
        self.instances.drain(timeout)

    def close(self) -> None:
        self.instances.close()

    def _advance_one(self, backup: Backup) -> None:
        try:
            if backup.state is BackupState.SUBMITTING:
                self.submitter.submit(backup)
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
            backup.next_poll_at = self._next_poll(backup.next_poll_at, now, self._poll_interval(elapsed))
            self.store.save_backup(backup, self.owner)

    def _poll_interval(self, elapsed: float) -> float:
        # Grows with the age of the backup: quick answers for short backups, light load for long ones.
        return min(self.config.poll_max, max(self.config.poll_initial, elapsed * 0.1))

    @staticmethod
    def _next_poll(due: datetime | None, now: datetime, interval: float) -> datetime:
        """An interval after this poll was due, not after it ran: a busy worker's lateness (50 instances'
        polls on one core) must not add up over a backup's polls and delay seeing its end; never sooner
        than half an interval from now (after an outage, polls do not catch up in a burst)."""
        anchored = (due or now) + timedelta(seconds=interval)
        return max(anchored, now + timedelta(seconds=interval / 2))

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
        # Only the last page's ids are kept: pages come in (received_at, id) order, so a rider the last
        # page did not finish comes back at the front of the next one (all 10,000 ids were 1.2 MB).
        last: set[str] = set()
        while riders := self.store.triggers_of_backup(backup.id, TriggerState.ATTACHED, limit=self.config.batch):
            if last.intersection(t.id for t in riders):
                break  # not finished by the last page (another worker's lease?): the sweep will see to it
            last = {t.id for t in riders}
            self.completer.complete(riders, backup, None)
