"""Small helpers every blueprint uses to read a request the same way."""

from __future__ import annotations

from flask import request

from ..core.durations import parse_duration
from ..core.errors import InvalidRequest, UnsupportedMediaType
from .context import web


def raw_body() -> bytes:
    """The body exactly as received (signatures are computed over these bytes)."""
    return request.get_data(cache=True)


def require_json() -> None:
    mimetype = request.mimetype or ""
    if request.content_length == 0 or not request.get_data(cache=True):
        return
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {mimetype} is not supported; send application/json.")


def wait_seconds() -> float | None:
    raw = request.args.get("wait")
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise InvalidRequest(f"wait: {exc}") from None
    return min(seconds, web().max_wait)


def status_url(trigger_id: str) -> str:
    base = (web().public_url or request.host_url).rstrip("/")
    return f"{base}/v1/triggers/{trigger_id}"
