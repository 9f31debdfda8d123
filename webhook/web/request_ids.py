"""Request ids: taken from ``X-Request-Id`` when sane, otherwise made; echoed and put on log lines."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets

from flask import Flask, Response, g, has_request_context, request

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _Ids:
    """16 hex characters: a random prefix per process and a counter (ids tie log lines together; they
    need to be unique, not secret, and reading the kernel's random source per request showed up)."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self._prefix, self._counter = secrets.token_hex(4), itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


_ids = _Ids()
os.register_at_fork(after_in_child=_ids.renew)  # each gunicorn worker gets its own prefix


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


def install(app: Flask) -> None:
    @app.before_request
    def _take_request_id() -> None:
        offered = request.headers.get("X-Request-Id", "")
        g.request_id = offered if offered and _SANE.match(offered) else _ids.next()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    # A logger's filters see only the records logged on it, not those its children pass up: the
    # handlers that write ``webhook``'s lines get the filter too, so ``webhook.service`` lines carry the id.
    logger = logging.getLogger("webhook")
    for where in (logger, *logger.handlers):
        if not any(isinstance(f, RequestIdFilter) for f in where.filters):
            where.addFilter(RequestIdFilter())
