"""Wall-clock time in UTC; the one ``Clock`` the service runs with (tests pass their own)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
