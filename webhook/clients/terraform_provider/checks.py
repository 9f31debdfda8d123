"""Plan-time checks of every argument, each problem with the attribute path Terraform points at.

Terraform calls the Validate* methods with the configuration before it plans; a value not known yet
(computed from another resource) is checked later, when it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tf.types import Unknown  # type: ignore[import-untyped]

from ..http import ELEMENT_TYPES, parse_duration

Path = list[str | tuple[str | int]]


@dataclass(frozen=True)
class Problem:
    path: Path
    summary: str
    detail: str = ""


def known(value: Any) -> bool:
    return value is not None and value is not Unknown


def http_url(name: str, value: Any, *, what: str) -> list[Problem]:
    if not known(value):
        return []
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in str(value)):
        return [Problem([name], f"{name} must be an absolute http(s) URL",
                        f"{what}, e.g. https://vcf-backup.example.com; got {str(value)[:200]!r}.")]
    return []


def duration(name: str, value: Any, *, positive: bool = False) -> list[Problem]:
    if not known(value):
        return []
    try:
        seconds = parse_duration(str(value))
    except ValueError as exc:
        return [Problem([name], f"{name} is not a duration", f"{exc}.")]
    if positive and seconds <= 0:
        return [Problem([name], f"{name} must be more than zero", "Use e.g. 30s, 15m or 1h.")]
    return []


def elements(name: str, value: Any) -> list[Problem]:
    if not known(value):
        return []
    if len(value) == 0:
        return [Problem([name], f"{name} must not be empty", "Leave it unset for the default [\"SDDC_MANAGER\"].")]
    problems = []
    for index, element in enumerate(value):
        if known(element) and element not in ELEMENT_TYPES:
            problems.append(Problem([name, (index,)], f"unsupported element type {element!r}",
                                    f"Supported resource types: {', '.join(ELEMENT_TYPES)}."))
    return problems


def provider(config: Mapping[str, Any]) -> list[Problem]:
    return [*http_url("endpoint", config.get("endpoint"), what="The base URL of vcf-backup-webhook"),
            *duration("request_timeout", config.get("request_timeout"), positive=True)]


def backup(config: Mapping[str, Any]) -> list[Problem]:
    problems = [*elements("elements", config.get("elements")),
                *duration("reuse_if_newer_than", config.get("reuse_if_newer_than")),
                *duration("timeout", config.get("timeout"), positive=True),
                *http_url("callback_url", config.get("callback_url"),
                          what="The callback URL must be absolute (scheme and host)")]
    reason = config.get("reason")
    if isinstance(reason, str) and not 0 < len(reason) <= 2000:
        problems.append(Problem(["reason"], "reason must be 1 to 2000 characters", "Leave it unset for none."))
    return problems


def latest_backup(config: Mapping[str, Any]) -> list[Problem]:
    return elements("elements", config.get("elements"))
