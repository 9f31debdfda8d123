"""Turning pydantic validation errors and JSON bodies into InvalidRequest with a readable message."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest
from .limits import MAX_INT_DIGITS, MAX_JSON_DEPTH

M = TypeVar("M", bound=BaseModel)

# The only BackupSpec resourceType any VCF version documents (sddc-manager-api.md section 5).
KNOWN_RESOURCE_TYPES = frozenset({"SDDC_MANAGER"})


def describe(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_json(body: bytes, what: str = "body") -> Any:
    """The JSON value of ``body`` within the documented limits (``core.limits``), else InvalidRequest."""
    if not body.strip():
        raise InvalidRequest(f"The {what} is empty; send a JSON object.")
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads does
        data = _DECODER.decode(text)
    except UnicodeDecodeError:
        raise InvalidRequest(f"The {what} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"The {what} is not valid JSON: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}.") from None
    except _OutOfBounds as exc:
        raise InvalidRequest(f"The {what} has {exc}.") from None
    except RecursionError:
        raise InvalidRequest(f"The {what} is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    if _may_break_bounds(text):
        check_bounds(data, what)
    return data


def _may_break_bounds(text: str) -> bool:
    """Whether decoded ``text`` can hold a NUL or nest deeper than the limit; if not, no walk is needed.

    JSON text cannot carry a raw NUL in a string (the decoder refuses control characters), only the
    escape ``\\u0000``; and every array or object opens with a bracket, so fewer brackets than the limit
    (those in strings included) cannot nest deeper than it. Two scans in C instead of a walk in Python.
    """
    return "\\u0000" in text or text.count("{") + text.count("[") > MAX_JSON_DEPTH


def check_bounds(data: Any, what: str = "body") -> None:
    """Nesting depth and text every store can keep (PostgreSQL refuses NUL): checked before anything is stored.

    One pass with an explicit stack; strings are checked where they are met rather than pushed
    (an Alertmanager notification is mostly strings: this walk was a third of parsing one).
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    push = stack.append
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise _nul(what)
            continue
        if isinstance(value, dict):
            items: Iterable[Any] = value.values()
            if any(isinstance(key, str) and "\x00" in key for key in value):
                raise _nul(what)
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequest(f"The {what} is nested deeper than {MAX_JSON_DEPTH} levels.")
        for item in items:
            if isinstance(item, str):
                if "\x00" in item:
                    raise _nul(what)
            elif isinstance(item, dict | list):
                push((item, depth + 1))


def _nul(what: str) -> InvalidRequest:
    return InvalidRequest(f"The {what} contains a NUL character (\\u0000), which cannot be stored.")


class _OutOfBounds(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _OutOfBounds(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfBounds(f"a number too large to be represented ({text[:20]})")
    return value


def _no_constant(text: str) -> float:
    raise _OutOfBounds(f"{text}, which is not JSON (numbers must be finite)")


def validate(model: type[M], data: Any, what: str = "body") -> M:
    if not isinstance(data, dict):
        raise InvalidRequest(f"The {what} must be a JSON object, not {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(f"The {what} is invalid: {describe(exc)}.") from None


# Built once: ``json.loads`` with hooks builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
