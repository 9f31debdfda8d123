"""Error bodies shaped like the SDDC Manager `Error` schema.

Every non-2xx answer of the simulator carries one of these so that clients are
exercised against the same shape the appliance returns.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

_TOKEN_ALPHABET = string.ascii_uppercase + string.digits


def reference_token() -> str:
    """Return a short log-correlation token like the appliance's ("K3J1QZ")."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(6))


def error_body(
    error_code: str,
    message: str,
    remediation: str | None = None,
    arguments: list[str] | None = None,
    context: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Build an `Error` object; optional parts are omitted, never null."""
    body: dict[str, Any] = {
        "errorCode": error_code,
        "errorType": "ERROR",
        "arguments": list(arguments or []),
        "message": message,
        "referenceToken": reference_token(),
    }
    if remediation:
        body["remediationMessage"] = remediation
    if context:
        body["context"] = dict(context)
    return body


_DEFAULT_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Unauthorized request"),
    403: ("FORBIDDEN", "Access denied"),
    404: ("NOT_FOUND", "Resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    409: ("CONFLICT", "Conflict"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("INTERNAL_SERVER_ERROR", "Internal server error"),
    502: ("BAD_GATEWAY", "Bad gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service temporarily unavailable"),
    504: ("GATEWAY_TIMEOUT", "Gateway timeout"),
}


def status_error_code(status: int) -> str:
    """A plausible upper-case errorCode for an HTTP status ("NOT_FOUND")."""
    return _DEFAULT_CODES.get(status, ("ERROR", ""))[0]


def generic_error(status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
    """Build an `Error` for an HTTP status, used by injected faults."""
    default_code, default_message = _DEFAULT_CODES.get(status, ("ERROR", f"HTTP {status}"))
    return error_body(
        code or default_code,
        message or f"{default_message} (injected by the simulator)",
        "Retry the request later.",
    )
