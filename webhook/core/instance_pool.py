"""A fleet's backups, each instance's on its own thread, so one slow SDDC Manager holds up only itself.

The pass that claims backups hands each instance's share to a bounded pool and returns at once. An
instance has at most one job out: backups claimed for a busy instance are released for a later pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from .triggers import Backup

log = logging.getLogger("webhook.worker")


class InstancePool:
    def __init__(self, threads: int, advance: Callable[[Backup], None], release: Callable[[str], None]) -> None:
        self.threads = threads
        self.advance = advance  # one backup's submit or poll
        self.release = release  # let go of a backup's lease
        self.notify: Callable[[], None] = lambda: None  # the loop's wake-up, when a job ended a backup
        self._pool: ThreadPoolExecutor | None = None
        self._busy: set[str] = set()
        self._jobs: set[Future[None]] = set()
        self._ended = False
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> bool:
        """Some instance's job is still out."""
        return bool(self._busy)

    def dispatch(self, claimed: list[Backup]) -> bool:
        """Hand each instance's claimed backups to its own job; True if a job ended a backup since last asked."""
        by_instance: dict[str, list[Backup]] = {}
        for backup in claimed:
            by_instance.setdefault(backup.instance, []).append(backup)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="instance")
            for instance, backups in by_instance.items():
                if instance in self._busy:  # its job is still out: claim these again on a later pass
                    for backup in backups:
                        self.release(backup.id)
                    continue
                self._busy.add(instance)
                job = self._pool.submit(self._run, instance, backups)
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)
            ended, self._ended = self._ended, False
        return ended

    def _run(self, instance: str, backups: list[Backup]) -> None:
        ended = False
        try:
            for backup in backups:
                try:
                    self.advance(backup)
                except Exception:  # the store failed: the lease lapses, a later pass tries again
                    log.exception("backup step failed", extra={"event": "backup.step_failed", "backup_id": backup.id,
                                                               "instance": instance})
                finally:
                    try:
                        self.release(backup.id)
                    except Exception:
                        log.warning("lease not released", extra={"event": "backup.release_failed",
                                                                 "backup_id": backup.id})
                ended = ended or not backup.state.is_active
        finally:
            with self._lock:
                self._busy.discard(instance)
                self._ended = self._ended or ended
            if ended:  # a poll that saw the task still running leaves nothing for the loop to do now
                self.notify()

    def drain(self, timeout: float | None = None) -> None:
        """Wait for the jobs in flight (tests and shutdown)."""
        wait(list(self._jobs), timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)  # a hung instance: its timeout ends it
            self._pool = None
