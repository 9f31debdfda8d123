"""``GET /openapi.json``: generated from the pydantic models the code validates and answers with.

Request bodies are the source models themselves, responses are ``core.results`` and ``Error``; a
test checks that every route of the app is described, so the document cannot drift from the code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from ..core.models import Error
from ..core.results import BackupResult, TriggerPage, TriggerStatus
from ..sources.alertmanager import AmNotification
from ..sources.generic import GenericTriggerBody

bp = Blueprint("openapi", __name__)

REF = "#/components/schemas/{model}"
MODELS: list[type[BaseModel]] = [GenericTriggerBody, TriggerStatus, TriggerPage, BackupResult, Error, AmNotification]
EXTRA_MODELS: list[type[BaseModel]] = []  # sources add theirs (see register_model)


def register_model(model: type[BaseModel]) -> type[BaseModel]:
    if model not in EXTRA_MODELS:
        EXTRA_MODELS.append(model)
    return model


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    return {"$ref": REF.format(model=model if isinstance(model, str) else model.__name__)}


def json_body(model: type[BaseModel] | str, description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": ref(model)}}}


def errors(*codes: int) -> dict[str, Any]:
    meaning = {400: "Invalid request", 401: "Missing or wrong credentials", 403: "Not allowed",
               404: "Not found", 413: "Body too large", 415: "Not JSON", 503: "Store unavailable: retry"}
    return {str(code): json_body(Error, meaning.get(code, "Error")) for code in codes}


BEARER = [{"bearer": []}]


def operation(summary: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None,
              security: list[dict[str, list[str]]] | None = None, parameters: list[dict[str, Any]] | None = None,
              tag: str = "triggers") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if security is not None:
        op["security"] = security
    if parameters:
        op["parameters"] = parameters
    return op


WAIT = {"name": "wait", "in": "query", "required": False,
        "description": "Block until the backup ends, at most this long (seconds or e.g. 30s)",
        "schema": {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)?$"}}
TRIGGER_ID = {"name": "trigger_id", "in": "path", "required": True, "schema": {"type": "string"}}


def paths() -> dict[str, Any]:
    status_responses = {"200": json_body(TriggerStatus, "Finished (or no wait asked)"),
                        "202": json_body(TriggerStatus, "Accepted / still running")}
    return {
        "/v1/triggers": {
            "post": operation(
                "Ask for a backup (coalesced with one already running)",
                {**status_responses, **errors(400, 401, 413, 415, 503)}, security=BEARER, parameters=[WAIT],
                body={"required": False, "content": {"application/json": {"schema": ref(GenericTriggerBody)}}}),
            "get": operation(
                "Audit trail: who asked for which backup, newest first", {"200": json_body(TriggerPage),
                                                                        **errors(400, 401)},
                security=BEARER, parameters=[
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("source", "state", "caller", "since", "limit", "before")]),
        },
        "/v1/triggers/{trigger_id}": {
            "get": operation("A trigger, its backup and every delivery attempt",
                             {**status_responses, **errors(400, 401, 404)}, security=BEARER,
                             parameters=[TRIGGER_ID, WAIT]),
        },
        "/hooks/alertmanager": {
            "post": operation(
                "Alertmanager webhook_config receiver (bearer or basic auth)",
                {"200": {"description": "Knowingly skipped (cooldown, resolved) or a duplicate"},
                 "202": {"description": "Stored; a backup will start or the running one is joined"},
                 **errors(400, 401, 413, 415, 503)},
                security=[{"bearer": []}, {"basic": []}], tag="sources",
                body={"required": True, "content": {"application/json": {"schema": ref(AmNotification)}}}),
        },
        "/hooks/slack": {
            "post": operation(
                "Slack slash command (signed with the app's signing secret)",
                {"200": {"description": "Ephemeral Slack message (JSON)"}, **errors(400, 401, 413, 503)},
                security=[{"slackSignature": []}], tag="sources",
                body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {k: {"type": "string"} for k in (
                        "team_id", "user_id", "user_name", "channel_id", "command", "text", "response_url",
                        "trigger_id")}}}}}),
        },
        "/healthz": {"get": operation("The process answers", {"200": {"description": "ok"}}, tag="ops")},
        "/readyz": {"get": operation("Store reachable and a worker loop beating",
                                     {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                                     tag="ops")},
        "/metrics": {"get": operation("Prometheus metrics", {"200": {"description": "text exposition"}},
                                      tag="ops")},
        "/openapi.json": {"get": operation("This document", {"200": {"description": "OpenAPI 3.1"}}, tag="ops")},
    }


EXTRA_PATHS: dict[str, dict[str, Any]] = {}


@cache
def document() -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in [*MODELS, *EXTRA_MODELS]],
                                    ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": "vcf-backup-webhook", "version": __version__,
                 "description": "Take VMware Cloud Foundation SDDC Manager backups from Terraform, Alertmanager, "
                                "Slack and scripts. Every error body is SDDC Manager's Error model."},
        "paths": {**paths(), **EXTRA_PATHS},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "slackSignature": {"type": "apiKey", "in": "header", "name": "X-Slack-Signature"},
                "tfcSignature": {"type": "apiKey", "in": "header", "name": "X-TFC-Task-Signature"},
                "uiSession": {"type": "apiKey", "in": "cookie", "name": "vcfbackup_ui"},
            },
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(document())
