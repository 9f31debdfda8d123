"""Durations as operators write them: ``90``, ``90s``, ``15m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import math
import re

from .limits import MAX_DURATION_SECONDS

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds as a float; raises ValueError with a message a person can act on."""
    if isinstance(value, bool):
        raise ValueError("a duration must be seconds or a text such as 15m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if text[pos:match.start()].strip():
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
                pos = match.end()
            if pos == 0 or text[pos:].strip():
                raise ValueError(f"{value!r} is not a duration (use seconds, or e.g. 30s, 15m, 1h, 1h30m)") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_bounded_duration(value: object) -> float:
    """A duration a caller sent: also at most ``MAX_DURATION_SECONDS`` (a year), so date arithmetic holds."""
    seconds = parse_duration(value)
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"a duration can be at most {int(MAX_DURATION_SECONDS // 86400)} days")
    return seconds
