"""Turning pydantic validation errors and JSON bodies into InvalidRequest with a readable message."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequest

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
    if not body.strip():
        raise InvalidRequest(f"The {what} is empty; send a JSON object.")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise InvalidRequest(f"The {what} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The {what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None


def validate(model: type[M], data: Any, what: str = "body") -> M:
    if not isinstance(data, dict):
        raise InvalidRequest(f"The {what} must be a JSON object, not {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(f"The {what} is invalid: {describe(exc)}.") from None
