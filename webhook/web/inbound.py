"""Small helpers every blueprint uses to read a request the same way."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from ..core.durations import parse_duration
from ..core.errors import InvalidRequest, UnsupportedMediaType
from .context import web


def raw_body() -> bytes:
    """The body exactly as received (signatures are computed over these bytes).

    A chunked body (no Content-Length) is read up to the limit and no further, so one that reaches
    the limit is refused with 413: it was cut, and a cut body must never be accepted.
    """
    data = request.get_data(cache=True)
    if request.content_length is None:  # the limit is looked up only for a chunked body (it costs a lookup)
        limit = request.max_content_length
        if limit is not None and len(data) >= limit:
            raise RequestEntityTooLarge(f"The body is larger than {limit} bytes.")
    return data


def require_json() -> None:
    ctype = request.environ.get("CONTENT_TYPE", "")
    if ctype == "application/json" or ctype.startswith("application/json;"):
        return  # what nearly every sender sends: no header parsing needed to accept it
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
