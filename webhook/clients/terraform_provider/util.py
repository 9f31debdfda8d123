"""Small helpers the resource, the data source and the provider share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..http import parse_duration
from .checks import Problem


def report(diags: Any, problems: Iterable[Problem]) -> None:
    """Each problem as an error diagnostic on its attribute path."""
    for problem in problems:
        diags.add_error(problem.summary, problem.detail, path=problem.path)


def seconds(duration: str) -> float:
    """A duration already validated at plan time."""
    return parse_duration(duration)
