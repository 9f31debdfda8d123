"""How the status page writes times, durations and targets (Jinja filters; every value still escaped)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit


def timestamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "—"


def clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S UTC") if moment else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    hours, rest = divmod(int(minutes), 60)
    if hours < 48:
        return f"{hours} h {rest:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "just now"
    return f"{duration(seconds)} ago"


def target(url: str, kind: str) -> str:
    """A callback target as the page shows it: no query string (it may hold a token), and for Slack and
    run tasks only the host (their URLs are capabilities)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return "…"
    if kind != "webhook":
        return f"{parts.scheme}://{parts.netloc}/…"
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
