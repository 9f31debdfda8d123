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
    if "wait" not in request.environ.get("QUERY_STRING", ""):  # most calls: skip parsing the query
        return None
    raw = request.args.get("wait")
    if raw is None:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise InvalidRequest(f"wait: {exc}") from None
    return min(seconds, web().max_wait)


def status_url(trigger_id: str) -> str:
    return f"{base_url()}/v1/triggers/{trigger_id}"


def base_url() -> str:
    """VCFBACKUP_PUBLIC_URL, else the scheme and host this request came to.

    Built from the WSGI environ: ``request.host_url`` re-parses and re-quotes the URL on every
    call, which is measurable on the trigger path.
    """
    public = web().public_url
    if public:
        return public.rstrip("/")
    environ = request.environ
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{environ.get('SCRIPT_NAME', '')}".rstrip("/")
