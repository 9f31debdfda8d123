"""``GET /openapi.json``: generated from the pydantic models the code validates and answers with.

Request bodies are the source models themselves, responses are ``core.results`` and ``Error``; a
test checks that every route of the app is described, so the document cannot drift from the code.
One pattern for every route: each web module that has a blueprint says what it serves in an
``OPENAPI = Described(paths, models)``, and ``create_app`` builds the document from the modules it
registers (so a source added through the registry is described without touching this file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import __version__
from ..core.models import Error
from ..core.results import BackupResult, TriggerStatus
from .context import web

bp = Blueprint("openapi", __name__)

REF = "#/components/schemas/{model}"
MODELS: list[type[BaseModel]] = [TriggerStatus, BackupResult, Error]  # what every document has


@dataclass(frozen=True)
class Described:
    """What one web module serves: OpenAPI path items, and the models their schemas refer to."""

    paths: dict[str, dict[str, Any]]
    models: tuple[type[BaseModel], ...] = field(default=())


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    return {"$ref": REF.format(model=model if isinstance(model, str) else model.__name__)}


def json_body(model: type[BaseModel] | str, description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": ref(model)}}}


def errors(*codes: int) -> dict[str, Any]:
    meaning = {400: "Invalid request", 401: "Missing or wrong credentials", 403: "Not allowed",
               404: "Not found", 413: "Body too large", 415: "Not JSON", 503: "Store unavailable: retry"}
    return {str(code): json_body(Error, meaning.get(code, "Error")) for code in codes}


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


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


STATUS_RESPONSES = {"200": json_body(TriggerStatus, "Finished (or no wait asked)"),
                    "202": json_body(TriggerStatus, "Accepted / still running")}


def document(parts: Iterable[Described]) -> dict[str, Any]:
    """The whole document from the described modules (built once per app, by ``create_app``)."""
    parts = list(parts)
    models = list(MODELS)
    for part in parts:
        models += [m for m in part.models if m not in models]
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for part in parts:
        for path, item in part.paths.items():
            paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {"title": "vcf-backup-webhook", "version": __version__,
                 "description": "Take VMware Cloud Foundation SDDC Manager backups from Terraform, Alertmanager, "
                                "Slack and scripts. Every error body is SDDC Manager's Error model."},
        "paths": paths,
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
    return jsonify(web().openapi)


OPENAPI = Described({"/openapi.json": {"get": operation("This document", {"200": {"description": "OpenAPI 3.1"}},
                                                        tag="ops")}})
