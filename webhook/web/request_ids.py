"""Request ids: taken from ``X-Request-Id`` when sane, otherwise made; echoed and put on log lines."""

from __future__ import annotations

import logging
import re
import secrets

from flask import Flask, Response, g, has_request_context, request

_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


def install(app: Flask) -> None:
    @app.before_request
    def _take_request_id() -> None:
        offered = request.headers.get("X-Request-Id", "")
        g.request_id = offered if _SANE.match(offered) else secrets.token_hex(8)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    logger = logging.getLogger("webhook")
    if not any(isinstance(f, RequestIdFilter) for f in logger.filters):
        logger.addFilter(RequestIdFilter())
