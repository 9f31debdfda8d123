"""Every 4xx/5xx leaves as the seed's Error body, with a referenceToken that is also in the log."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..core.errors import ServiceError
from .context import EXTENSION

log = logging.getLogger("webhook.web")

_HTTP_CODES = {
    400: ("VCFBACKUP_BAD_REQUEST", "Fix the request and send it again."),
    404: ("VCFBACKUP_NOT_FOUND", "Check the URL; GET /openapi.json lists every endpoint."),
    405: ("VCFBACKUP_METHOD_NOT_ALLOWED", "Use a method this endpoint allows (see /openapi.json)."),
    413: ("VCFBACKUP_PAYLOAD_TOO_LARGE", "Send a smaller body, or raise VCFBACKUP_MAX_BODY_BYTES."),
}


def reference_token() -> str:
    return secrets.token_hex(6).upper()


def error_response(error: ServiceError) -> Response:
    token = reference_token()
    level = logging.ERROR if error.status >= 500 else logging.WARNING
    log.log(level, "request refused", extra={
        "event": "http.error", "status": error.status, "errorCode": error.error_code,
        "error": error.message, "referenceToken": token, "path": request.path, "method": request.method})
    if request.method == "POST" and error.status < 500:
        _count_rejection(error)
    if error.status == 401:
        count_auth_refused(request.blueprint or "unknown")
    response = jsonify(error.to_error(token).to_json_dict())
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="vcf-backup-webhook"'
    return response


def _count_rejection(error: ServiceError) -> None:
    context = current_app.extensions.get(EXTENSION)
    if context is not None:
        context.service.metrics.trigger(request.blueprint or "unknown", "rejected", error.error_code)


def count_auth_refused(source: str) -> None:
    context = current_app.extensions.get(EXTENSION)
    if context is not None:
        context.service.metrics.auth_refused(source)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code, remediation = _HTTP_CODES.get(status, ("VCFBACKUP_HTTP_ERROR", "Check the request."))
        wrapped = ServiceError(error.description or error.name, remediation=remediation, error_code=code)
        wrapped.status = status
        return error_response(wrapped)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        token = reference_token()
        log.exception("unexpected error", extra={"event": "http.unexpected", "referenceToken": token,
                                                 "path": request.path})
        body = ServiceError("The service failed unexpectedly; nothing about this request is guaranteed.",
                            ).to_error(token).to_json_dict()
        response = jsonify(body)
        response.status_code = 500
        return response
