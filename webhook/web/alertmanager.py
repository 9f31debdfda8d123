"""``POST /hooks/alertmanager``: Alertmanager's webhook_config receiver.

Auth first, then parse, then store or knowingly skip, then answer. Nothing here calls SDDC Manager:
Alertmanager times out after ``group_interval`` (10 s at least) and retries only 5xx, so the answer
must be fast and a 4xx must mean "the sender has to change something".
"""

from __future__ import annotations

import logging

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from ..core.errors import CallbackRefused, InvalidRequest, PayloadTooLarge
from ..sources import alertmanager
from ..sources.alertmanager import AlertmanagerConfig
from . import openapi
from .context import web
from .inbound import raw_body, require_json, status_url
from .responses import json_response

log = logging.getLogger("webhook.web.alertmanager")

bp = Blueprint("alertmanager", __name__, url_prefix="/hooks")


def config() -> AlertmanagerConfig:
    return web().source_config(alertmanager.SOURCE, AlertmanagerConfig)


@bp.before_request
def _own_body_limit() -> None:
    # A 1,000-alert notification is ~0.7 MB with modest labels, so this endpoint has its own limit.
    request.max_content_length = config().max_body_bytes


def _body(limit: int) -> bytes:
    try:
        return raw_body()
    except RequestEntityTooLarge:
        raise PayloadTooLarge(
            f"The notification is larger than {limit} bytes.",
            remediation="Set max_alerts on the webhook_config in alertmanager.yml, or raise "
                        "VCFBACKUP_ALERTMANAGER_MAX_BODY_BYTES.") from None


@bp.post("/alertmanager")
def receive() -> ResponseReturnValue:
    settings = config()
    alertmanager.authenticate(request.headers.get("Authorization"), settings)
    body = _body(settings.max_body_bytes)
    require_json()
    notification = alertmanager.parse(body)
    service = web().service
    try:
        intake = alertmanager.decide(
            notification, settings, received_at=service.clock.now(),
            recent_correlated=service.recent_correlated, callback_policy=service.callback_policy)
    except (CallbackRefused, InvalidRequest) as exc:
        # Alertmanager does not retry a 4xx: this notification is lost unless someone reads this line.
        log.warning("alertmanager notification refused", extra={
            "event": "alertmanager.refused", "groupKey": notification.groupKey,
            "receiver": notification.receiver, "error": exc.message})
        raise
    intake.audit = {"hook": "alertmanager.received", "groupKey": notification.groupKey,
                    "status": notification.status, "alerts": len(notification.alerts)}
    receipt = service.take(intake)  # writes the request's one audit line
    status = 202 if receipt.created and not intake.skipped else 200
    stored = receipt.trigger
    return json_response({
        "id": stored.id,
        "state": stored.state.value,
        "reason": stored.note if intake.skipped else stored.reason,
        "duplicate": not receipt.created,
        "backupId": stored.backup_id,
        "statusUrl": status_url(stored.id),
    }, status)


OPENAPI = openapi.Described({
    "/hooks/alertmanager": {
        "post": openapi.operation(
            "Alertmanager webhook_config receiver (bearer or basic auth)",
            {"200": {"description": "Knowingly skipped (cooldown, resolved) or a duplicate"},
             "202": {"description": "Stored; a backup will start or the running one is joined"},
             **openapi.errors(400, 401, 413, 415, 503)},
            security=[{"bearer": []}, {"basic": []}], tag="sources",
            body={"required": True,
                  "content": {"application/json": {"schema": openapi.ref(alertmanager.AmNotification)}}}),
    },
}, models=(alertmanager.AmNotification,))
