"""Remember whether SDDC Manager answered the worker, so the status page and /metrics can tell.

The worker's SDDC Manager client is wrapped: every call it makes anyway records its outcome in the
store (when it changes, else at most every ``refresh`` seconds, so a poll loop is not a write loop).
An idle worker asks SDDC Manager something harmless (the backup task list) every ``probe_every``
seconds, so an outage is seen before the next backup needs it. Web processes never call SDDC Manager.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from .errors import SddcManagerError
from .models import BackupSpec, BackupTask, Task
from .ports import Clock, SddcManager, Store
from .status import DEFAULT_INSTANCE, SddcContact

log = logging.getLogger("webhook.reachability")

T = TypeVar("T")


def answered(exc: SddcManagerError) -> bool:
    """SDDC Manager answered and let us in: a 4xx about the request itself, not about who we are."""
    return exc.http_status is not None and exc.http_status < 500 and not exc.is_auth_failure


class TrackedSddcManager:
    """An ``SddcManager`` that records, per instance, whether SDDC Manager is reachable."""

    def __init__(self, inner: SddcManager, store: Store, clock: Clock, *, instance: str = DEFAULT_INSTANCE,
                 refresh: float = 30.0) -> None:
        self.inner = inner
        self.store = store
        self.clock = clock
        self.instance = instance
        self.refresh = refresh
        self._last: tuple[bool, str | None] | None = None
        self._recorded_at: datetime | None = None
        self.last_contact: datetime | None = None

    def __getattr__(self, name: str) -> Any:  # tests and adapters reach the wrapped client's own attributes
        return getattr(self.inner, name)

    def start_backup(self, spec: BackupSpec) -> BackupTask:
        return self._call(lambda: self.inner.start_backup(spec))

    def get_task(self, task_id: str) -> Task:
        return self._call(lambda: self.inner.get_task(task_id))

    def list_backup_tasks(self) -> list[Task]:
        return self._call(self.inner.list_backup_tasks)

    def probe(self, every: float) -> None:
        """Ask SDDC Manager for its backup tasks if nothing else did for ``every`` seconds."""
        now = self.clock.now()
        if self.last_contact is None:
            self.last_contact = now  # the first probe waits a full interval: starting up is not idle
            return
        if (now - self.last_contact).total_seconds() < every:
            return
        with contextlib.suppress(SddcManagerError):  # recorded by _call; nothing more to do about it here
            self.list_backup_tasks()

    def _call(self, call: Callable[[], T]) -> T:
        try:
            result = call()
        except SddcManagerError as exc:
            self._record(answered(exc), None if answered(exc) else exc.message)
            raise
        self._record(True, None)
        return result

    def _record(self, reachable: bool, error: str | None) -> None:
        now = self.clock.now()
        self.last_contact = now
        state = (reachable, error)
        fresh = self._recorded_at is not None and (now - self._recorded_at).total_seconds() < self.refresh
        if state == self._last and fresh:
            return
        try:
            self.store.record_sddc_contact(SddcContact(self.instance, reachable, now, error=error))
        except Exception as exc:  # losing this note must never fail a backup step
            log.warning("reachability not recorded", extra={"event": "sddc.contact_not_recorded",
                                                            "error": type(exc).__name__})
            return
        if self._last is not None and self._last[0] != reachable:
            log.log(logging.INFO if reachable else logging.WARNING, "SDDC Manager reachability changed",
                    extra={"event": "sddc.reachability", "reachable": reachable, "error": error})
        self._last, self._recorded_at = state, now
