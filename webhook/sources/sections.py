"""Reading a source's settings section (its ``<section>_*`` fields, prefix stripped) the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr


def secret(section: Mapping[str, Any], key: str) -> str | None:
    """A secret's value, or None when unset or empty (a ``SecretStr`` or a plain string)."""
    value = section.get(key)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None


def names(section: Mapping[str, Any], key: str) -> frozenset[str]:
    return frozenset(section.get(key) or ())
