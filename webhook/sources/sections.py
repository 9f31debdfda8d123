"""What sources read from outside: their settings section (``<section>_*``, prefix stripped) and request headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import SecretStr


def secret(section: Mapping[str, Any], key: str, *, keep_empty: bool = False) -> str | None:
    """A secret's value (a ``SecretStr`` or a plain string); None when unset, or empty unless ``keep_empty``."""
    value = section.get(key)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return None
    return str(value) if value or keep_empty else None


def names(section: Mapping[str, Any], key: str) -> frozenset[str]:
    return frozenset(section.get(key) or ())


class Headers(Protocol):
    """What a source reads of request headers: werkzeug's ``Headers`` and a plain dict both fit."""

    def get(self, key: str, /) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...
