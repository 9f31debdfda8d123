"""Field types the settings classes share: durations (``90s``, ``5m``) and comma-separated lists.

Apart from ``settings.py`` so the per-source and fleet settings mixins can use them without importing
the module that composes them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from .core.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
CommaList = Annotated[list[str], NoDecode]


def split_list(value: object) -> object:
    """``"a, b\\nc"`` → ``["a", "b", "c"]``; anything that is not text is left to pydantic."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    return value
