"""What every client of the service shares: exit codes, the ``VCFBACKUP_TRIGGER_*`` environment,
an authenticated ``requests`` session and the Error model turned into one line for a person.

Kept free of server code on purpose (no ``webhook.core``/``adapters``/``web``/``settings``), so a
client installed on a CI runner or inside Terraform never drags the service's stack along.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

ENV_URL = "VCFBACKUP_TRIGGER_URL"
ENV_TOKEN = "VCFBACKUP_TRIGGER_TOKEN"
ENV_CA_BUNDLE = "VCFBACKUP_TRIGGER_CA_BUNDLE"

#: The BackupSpec resource types the service accepts (the service's own list is checked against this in the tests).
ELEMENT_TYPES = ("SDDC_MANAGER",)


#: The trigger states a wait ends on.
FINISHED = ("DONE", "SKIPPED")

#: The shortest time between two ``?wait=`` asks of one client (see :func:`pause_after_early_answer`).
MIN_POLL_SECONDS = 1.0


class ExitCode:
    SUCCESS = 0
    FAILED = 1
    TIMED_OUT = 2
    REJECTED = 3
    UNAVAILABLE = 4


@dataclass(frozen=True)
class ClientEnvironment:
    """``VCFBACKUP_TRIGGER_URL`` / ``_TOKEN`` / ``_CA_BUNDLE``: how a client finds the service without
    putting the URL or the token on a command line. An empty value counts as unset."""

    url: str | None
    token: str | None
    ca_bundle: str | None

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> ClientEnvironment:
        env = os.environ if environ is None else environ
        return cls(url=env.get(ENV_URL) or None, token=env.get(ENV_TOKEN) or None,
                   ca_bundle=env.get(ENV_CA_BUNDLE) or None)


def session(token: str, *, verify: bool | str = True, user_agent: str) -> requests.Session:
    """A session that sends the bearer token on every request; the token lives only in its headers.
    ``requests`` is imported here, not at the top, so the Terraform provider starts without it."""
    import requests

    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    http.headers["User-Agent"] = user_agent
    http.verify = verify
    return http


def error_body(response: requests.Response) -> dict[str, Any]:
    """The service's Error model from a 4xx/5xx (or the start of whatever else it answered)."""
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}


def error_text(errors: list[dict[str, Any]] | None) -> str:
    """SDDC Manager's errors (message -- remediation) joined into one line."""
    return "; ".join(
        f"{e.get('message', '')} {('-- ' + e['remediationMessage']) if e.get('remediationMessage') else ''}".strip()
        for e in errors or [])


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def pause_after_early_answer(asked_at: float, deadline: float, *, clock: Callable[[], float] = time.monotonic,
                             sleep: Callable[[float], None] = time.sleep) -> None:
    """After a ``?wait=`` that came back unfinished: sleep out the rest of ``MIN_POLL_SECONDS`` since
    ``asked_at`` (never past ``deadline``).

    The service answers at once, unfinished, when all of its waiting slots are taken
    (``VCFBACKUP_MAX_WAITERS``); asking again at once would poll it in a loop, on the very node that is busy.
    """
    rest = min(asked_at + MIN_POLL_SECONDS, deadline) - clock()
    if rest > 0:
        sleep(rest)


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``1h30m``, ``2d``: the same spellings the service accepts
    (a test holds the two parsers to the same answers); ValueError with a message a person can act on."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION_PART.finditer(value):
            if value[pos:match.start()].strip():
                break
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
            pos = match.end()
        if pos == 0 or value[pos:].strip():
            raise ValueError(f"{text!r} is not a duration (use seconds, or e.g. 30s, 15m, 1h, 1h30m)") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError("a duration cannot be negative")
    return seconds
