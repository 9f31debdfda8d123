"""What the core reports for metrics, as a port; ``NullMetrics`` when nobody listens."""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    def trigger(self, source: str, outcome: str, reason: str = "") -> None:
        """outcome: accepted, duplicate, skipped, rejected (reason: an errorCode or skip reason)."""

    def submit_delay(self, seconds: float, instance: str = "default") -> None:
        """Time from an accepted trigger to the POST /v1/backups/tasks that serves it (on ``instance``)."""

    def backup_ended(self, state: str, duration_seconds: float | None, instance: str = "default") -> None: ...

    def delivery(self, kind: str, outcome: str, attempts: int) -> None:
        """outcome: delivered, retry, gave_up."""

    def store_error(self) -> None: ...

    def auth_refused(self, source: str) -> None:
        """A request refused for a missing or wrong credential (source: the endpoint's blueprint, or ui)."""


class NullMetrics:
    def trigger(self, source: str, outcome: str, reason: str = "") -> None:
        pass

    def submit_delay(self, seconds: float, instance: str = "default") -> None:
        pass

    def backup_ended(self, state: str, duration_seconds: float | None, instance: str = "default") -> None:
        pass

    def delivery(self, kind: str, outcome: str, attempts: int) -> None:
        pass

    def store_error(self) -> None:
        pass

    def auth_refused(self, source: str) -> None:
        pass
