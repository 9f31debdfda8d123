"""Request ids: taken from ``X-Request-Id`` when sane, otherwise made; echoed and put on log lines."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, has_request_context, request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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


ENVIRON_KEY = "vcf_backup_webhook.request_id"


def request_id(environ: WSGIEnvironment) -> str:
    offered = environ.get("HTTP_X_REQUEST_ID", "")
    return offered if offered and _SANE.match(offered) else _ids.next()


class RequestIds:
    """WSGI middleware: takes or makes the id and adds it to every answer, errors included.

    Around the app rather than in Flask's ``before_request``/``after_request``: two hooks reading
    ``request``, ``g`` and the response's ``Headers`` cost more than the id itself.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        rid = environ[ENVIRON_KEY] = request_id(environ)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-Id", rid))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = request.environ.get(ENVIRON_KEY)
        return True


def install(app: Flask) -> None:
    app.wsgi_app = RequestIds(app.wsgi_app)  # type: ignore[method-assign]

    # A logger's filters see only the records logged on it, not those its children pass up: the
    # handlers that write ``webhook``'s lines get the filter too, so ``webhook.service`` lines carry the id.
    logger = logging.getLogger("webhook")
    for where in (logger, *logger.handlers):
        if not any(isinstance(f, RequestIdFilter) for f in where.filters):
            where.addFilter(RequestIdFilter())
