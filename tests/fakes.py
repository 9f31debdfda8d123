"""Small hand-written doubles that satisfy core.ports (no mock framework)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from webhook.core.errors import SddcManagerError
from webhook.core.models import BackupSpec, BackupTask, Task
from webhook.core.triggers import AttemptResult, Delivery


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeSddc:
    """Scripted SDDC Manager: each started backup reports ``statuses`` in turn on each poll."""

    def __init__(self, statuses: list[str] | None = None) -> None:
        self.statuses = statuses or ["In Progress", "Successful"]
        self.started: list[BackupSpec] = []
        self.polls: dict[str, int] = {}
        self.tasks: dict[str, Task] = {}
        self.start_error: SddcManagerError | None = None
        self.list_error: SddcManagerError | None = None  # raised by list_backup_tasks (SDDC Manager down)
        self.lists = 0
        self.crash_after_start = False
        self._ids = itertools.count(1)

    def start_backup(self, spec: BackupSpec) -> BackupTask:
        if self.start_error:
            raise self.start_error
        task_id = f"task-{next(self._ids)}"
        self.started.append(spec)
        self.tasks[task_id] = Task(id=task_id, name="SDDC Manager Backup", status="IN_PROGRESS",
                                   type="SDDCMANAGER_BACKUP", creationTimestamp=datetime.now(UTC).isoformat())
        if self.crash_after_start:
            raise SimulatedCrash("simulated crash after the POST reached SDDC Manager")
        return BackupTask(id=task_id, name="SDDC Manager Backup", status="IN_PROGRESS")

    def get_task(self, task_id: str) -> Task:
        if task_id not in self.tasks:
            raise SddcManagerError("not found", http_status=404)
        n = self.polls.get(task_id, 0)
        self.polls[task_id] = n + 1
        status = self.statuses[min(n, len(self.statuses) - 1)]
        task = self.tasks[task_id].model_copy(update={"status": status})
        self.tasks[task_id] = task
        return task

    def list_backup_tasks(self) -> list[Task]:
        self.lists += 1
        if self.list_error:
            raise self.list_error
        return sorted(self.tasks.values(), key=lambda t: t.creationTimestamp or "", reverse=True)


class RecordingNotifier:
    def __init__(self, results: list[AttemptResult] | None = None) -> None:
        self.sent: list[Delivery] = []
        self.results = list(results or [])

    def send(self, delivery: Delivery) -> AttemptResult:
        self.sent.append(delivery)
        return self.results.pop(0) if self.results else AttemptResult(ok=True, status_code=200)


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the service catches it (it is not an ``Exception``)."""
