"""Reading ISO 8601 times as the service, SDDC Manager and its callers write them ("Z" or an offset)."""

from __future__ import annotations

from datetime import datetime


def iso_time(text: str) -> datetime:
    """The time ``text`` names; ``ValueError`` (saying why) if it names none."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_iso(text: object) -> datetime | None:
    """The time ``text`` names, or None when it is absent, not a string or not a time (lenient readers)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return iso_time(text)
    except ValueError:
        return None


def sddc_time(text: str | None) -> datetime | None:
    """A time as SDDC Manager writes it, or None if absent or unreadable; one without an offset is local."""
    parsed = parse_iso(text)
    if parsed is None or parsed.tzinfo is not None:
        return parsed
    return parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)
