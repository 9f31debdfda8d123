"""``GET /v1/instances``: every SDDC Manager instance with its latest backup, for dashboards and a
freshness gate across the fleet (read-only: the store only, never SDDC Manager)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from ..core.instances import InstanceList
from ..sources.auth import caller_of_token
from . import openapi
from .context import web

bp = Blueprint("instances", __name__, url_prefix="/v1/instances")


@bp.get("")
def list_instances() -> ResponseReturnValue:
    caller_of_token(request.headers.get("Authorization"), web().api_tokens)
    found = InstanceList(items=web().service.instances())
    return jsonify(found.model_dump(mode="json", exclude_none=True))


OPENAPI = openapi.Described({
    "/v1/instances": {
        "get": openapi.operation(
            "Every SDDC Manager instance with its latest backup and latest SUCCESSFUL backup (read-only)",
            {"200": openapi.json_body(InstanceList), **openapi.errors(401)}, security=openapi.BEARER),
    },
}, models=(InstanceList,))
