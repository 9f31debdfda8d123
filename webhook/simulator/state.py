"""Thread-safe in-memory state of one simulated SDDC Manager.

The HTTP server is threaded, so every read and write goes through one lock.
Tests in the same process use the same object to script faults and count
backups, which is why the operations are public methods rather than routes.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from webhook.simulator.config import SimulatorConfig
from webhook.simulator.errors import reference_token
from webhook.simulator.faults import DelayRule, FailRule, parse_fault_document, take_rule
from webhook.simulator.jwt_tokens import mint_access_token
from webhook.simulator.tasks import BackupRecord, render_task

LOG_LIMIT = 10_000


class BackupRefused(Exception):
    """Why POST /v1/backups/tasks is refused: not configured or already running."""

    def __init__(self, reason: str, running_id: str | None = None) -> None:
        """Keep the reason ("not_configured" | "already_running") and blocking task."""
        super().__init__(reason)
        self.reason = reason
        self.running_id = running_id


class SimulatorState:
    """Users, tokens, backup tasks, faults, counters and the exchange log."""

    def __init__(self, config: SimulatorConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Copy the config so /sim/faults changes never leak into the caller's object."""
        self._lock = threading.Lock()
        self._clock = clock
        self._defaults = replace(config or SimulatorConfig())
        self._key = secrets.token_bytes(32)
        self.config = replace(self._defaults)
        self._users = {self.config.username: self.config.password}
        self._access: dict[str, float] = {}  # access token -> expiry (epoch s)
        self._refresh: dict[str, str] = {}  # refresh token id -> username
        self._clear()

    def _clear(self) -> None:
        self._tasks: dict[str, BackupRecord] = {}
        self._end_read: dict[str, float] = {}  # task id -> when a GET first found it finished
        self._fails: list[FailRule] = []
        self._delays: list[DelayRule] = []
        self._next_outcomes: deque[str] = deque()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._backups_started = 0
        self._tokens_issued = 0
        self._refreshes = 0

    def now(self) -> float:
        """Current time in epoch seconds (injectable for tests)."""
        return self._clock()

    def reset(self) -> None:
        """Drop faults, tasks, counters and the log; restore the initial config.

        Issued tokens survive so that a client's session stays usable.
        """
        with self._lock:
            self._clear()
            self.config = replace(self._defaults)
            self._users = {self.config.username: self.config.password}

    # --- authentication -------------------------------------------------
    def add_user(self, username: str, password: str) -> None:
        """Allow another account to log in."""
        with self._lock:
            self._users[username] = password

    def login(self, username: str, password: str) -> tuple[str, str] | None:
        """Issue (access token, refresh id) for valid credentials, else None."""
        with self._lock:
            if self._users.get(username) != password:
                return None
            access = self._issue_locked(username)
            refresh_id = str(uuid.uuid4())
            self._refresh[refresh_id] = username
            self._tokens_issued += 1
            return access, refresh_id

    def _issue_locked(self, username: str) -> str:
        now = self.now()
        ttl = self.config.token_ttl_seconds
        token = mint_access_token(self._key, username, now, ttl)
        self._access[token] = now + ttl
        return token

    def refresh(self, refresh_id: str) -> str | None:
        """Issue a new access token for a known refresh id, else None."""
        with self._lock:
            username = self._refresh.get(refresh_id)
            if username is None:
                return None
            self._refreshes += 1
            return self._issue_locked(username)

    def revoke_refresh(self, refresh_id: str) -> bool:
        """Forget a refresh id; True if it was known."""
        with self._lock:
            return self._refresh.pop(refresh_id, None) is not None

    def check_access(self, token: str) -> str | None:
        """Return None if the token is usable, else "invalid" or "expired"."""
        with self._lock:
            expiry = self._access.get(token)
        if expiry is None:
            return "invalid"
        return "expired" if self.now() >= expiry else None

    def expire_tokens_now(self) -> None:
        """Make every access token issued so far expired (refresh ids stay valid)."""
        with self._lock:
            cutoff = self.now()
            self._access = {token: min(exp, cutoff) for token, exp in self._access.items()}

    # --- backups and tasks ------------------------------------------------
    def start_backup(self) -> BackupRecord:
        """Create a backup task, or raise BackupRefused; atomic under concurrency."""
        with self._lock:
            now = self.now()
            if not self.config.configured:
                raise BackupRefused("not_configured")
            if self.config.refuse_concurrent:
                running = [r.id for r in self._tasks.values() if r.is_running(now)]
                if running:
                    raise BackupRefused("already_running", running[0])
            outcome = self._next_outcomes.popleft() if self._next_outcomes else self.config.outcome
            record = BackupRecord(
                id=str(uuid.uuid4()), resource_id=str(uuid.uuid4()), created=now,
                duration=self.config.backup_seconds, outcome=outcome,
                fqdn=self.config.fqdn, reference_token=reference_token(),
            )
            self._tasks[record.id] = record
            self._backups_started += 1
            return record

    def task_view(self, task_id: str) -> dict[str, Any] | None:
        """The `Task` JSON for an id, or None if unknown."""
        with self._lock:
            record = self._tasks.get(task_id)
            style = self.config.status_style
            now = self.now()
            if record is not None and not record.is_running(now):
                self._end_read.setdefault(task_id, now)
        return None if record is None else render_task(record, now, style)

    def end_read_at(self, task_id: str) -> float | None:
        """When a GET of this task first answered that it had finished (epoch s), or None.

        A poller learns of a backup's end only then: the gap after ``ends`` is its poll schedule's.
        """
        with self._lock:
            return self._end_read.get(task_id)

    def task_views(self) -> list[dict[str, Any]]:
        """Every task as `Task` JSON, newest first."""
        with self._lock:
            records = list(self._tasks.values())
            style = self.config.status_style
        now = self.now()
        return [render_task(r, now, style) for r in reversed(records)]

    def running_ids(self) -> list[str]:
        """Ids of backups still in progress, oldest first."""
        with self._lock:
            records = list(self._tasks.values())
        now = self.now()
        return [r.id for r in records if r.is_running(now)]

    def queue_outcomes(self, outcomes: list[str]) -> None:
        """Outcomes consumed, in order, by the next backups."""
        with self._lock:
            self._next_outcomes.extend(outcomes)

    # --- configuration and faults ------------------------------------------
    def update_config(self, **changes: Any) -> None:
        """Change settings (SimulatorConfig field names); invalid values raise."""
        with self._lock:
            candidate = replace(self.config, **changes)
            candidate.validate()
            self.config = candidate

    def add_fault(self, rule: FailRule | DelayRule) -> None:
        """Register a failing or slow-answer rule."""
        with self._lock:
            if isinstance(rule, FailRule):
                self._fails.append(rule)
            else:
                self._delays.append(rule)

    def add_failure(self, path: str, status: int = 500, times: int = 1,
                    method: str = "*", **extra: Any) -> None:
        """Fail the next `times` requests matching method and path glob."""
        self.add_fault(FailRule(method, path, status, times, **extra))

    def add_delay(self, path: str, seconds: float, times: int = 1,
                  method: str = "*", when: str = "before") -> None:
        """Slow down the next `times` matching requests."""
        self.add_fault(DelayRule(method, path, seconds, times, when))

    def clear_faults(self) -> None:
        """Drop every pending fail and delay rule."""
        with self._lock:
            self._fails.clear()
            self._delays.clear()

    def apply_faults(self, document: Any) -> None:
        """Apply a /sim/faults JSON document; raises ValueError when malformed."""
        update = parse_fault_document(document)
        if update.config_changes:
            self.update_config(**update.config_changes)
        if update.clear_faults:
            self.clear_faults()
        rules: list[FailRule | DelayRule] = [*update.fails, *update.delays]
        for rule in rules:
            self.add_fault(rule)
        if update.next_outcomes is not None:
            self.queue_outcomes(update.next_outcomes)
        if update.expire_tokens_now:
            self.expire_tokens_now()

    def take_failure(self, method: str, path: str) -> FailRule | None:
        """Consume the fail rule matching this request, if any."""
        with self._lock:
            return take_rule(self._fails, method, path)  # type: ignore[no-any-return]

    def take_delay(self, method: str, path: str) -> DelayRule | None:
        """Consume the delay rule matching this request, if any."""
        with self._lock:
            return take_rule(self._delays, method, path)  # type: ignore[no-any-return]

    # --- inspection --------------------------------------------------------
    def record_exchange(self, entry: dict[str, Any]) -> None:
        """Append one request/response pair to the capped log."""
        with self._lock:
            self._log.append(entry)

    def exchanges(self) -> list[dict[str, Any]]:
        """A copy of the exchange log, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def backups_started(self) -> int:
        """Backups created since start or the last reset."""
        with self._lock:
            return self._backups_started

    @property
    def tokens_issued(self) -> int:
        """Successful logins since start or the last reset."""
        with self._lock:
            return self._tokens_issued

    @property
    def refreshes(self) -> int:
        """Successful access-token refreshes since start or the last reset."""
        with self._lock:
            return self._refreshes

    def snapshot(self) -> dict[str, Any]:
        """The /sim/state document (never includes the password)."""
        running = self.running_ids()
        with self._lock:
            return {
                "backupsStarted": self._backups_started,
                "tokensIssued": self._tokens_issued,
                "refreshes": self._refreshes,
                "running": running,
                "pendingFaults": {"fail": len(self._fails), "delay": len(self._delays)},
                "nextOutcomes": list(self._next_outcomes),
                "config": self.config.public_dict(),
            }
