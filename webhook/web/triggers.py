"""The generic trigger API: ``POST /v1/triggers``, ``GET /v1/triggers/{id}``, ``GET /v1/triggers``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic_core import to_json

from ..core.errors import InvalidRequest
from ..core.results import TriggerPage, iso, shown_url
from ..core.service import TriggerView
from ..core.times import iso_time
from ..core.triggers import TriggerState
from ..sources import generic
from ..sources.auth import caller_of_token
from . import openapi
from .context import web
from .inbound import raw_body, require_json, status_url, wait_seconds

bp = Blueprint("triggers", __name__, url_prefix="/v1/triggers")


def authenticate() -> str:
    return caller_of_token(request.headers.get("Authorization"), web().api_tokens)


def view_response(view: TriggerView, *, created: bool | None = None, waited: bool = False,
                  viewer: str | None = None) -> ResponseReturnValue:
    url = status_url(view.trigger.id)
    duplicate = None if created is None else not created
    text: str | bytes | None = None
    if viewer in (None, view.trigger.caller):
        text = fresh_status_json(view, url, duplicate)
    if text is None:
        text = view.status(url, duplicate, viewer).model_dump_json(exclude_none=True)
    status = 200 if (view.finished or (created is None and not waited)) else 202
    return current_app.response_class(text, status, [("Location", url)], content_type="application/json")


def fresh_status_json(view: TriggerView, url: str, duplicate: bool | None) -> bytes | None:
    """``TriggerStatus`` as JSON, for its own caller, of a trigger with no backup or delivery yet, else None.

    The same bytes ``model_dump_json(exclude_none=True)`` writes (a test holds them equal), without
    building two models per acknowledgement; anything beyond plain strings in the context takes the
    model's path.
    """
    trigger = view.trigger
    if view.backup is not None or view.record is not None or view.deliveries or view.fanout is not None:
        return None
    context = trigger.context
    if context and not all(isinstance(v, str) for v in context.values()):
        return None
    # The model's fields in its order, each only when set (exclude_none), built without a dict pass.
    detail: dict[str, Any] = {"id": trigger.id, "source": trigger.source, "caller": trigger.caller}
    if trigger.reason is not None:
        detail["reason"] = trigger.reason
    detail["receivedAt"] = iso(trigger.received_at)
    detail["state"] = trigger.state.value
    if trigger.note is not None:
        detail["note"] = trigger.note
    detail["elements"] = trigger.spec.to_json_dict()["elements"]
    if trigger.backup_id is not None:
        detail["backupId"] = trigger.backup_id
    if trigger.completed_at is not None:
        detail["completedAt"] = iso(trigger.completed_at)
    if trigger.callback is not None:
        detail["callbackUrl"] = shown_url(trigger.callback.url, trigger.callback.kind, True)
    detail["context"] = context
    detail["instance"] = trigger.instance
    if trigger.targets is not None:
        detail["targets"] = trigger.targets
    body: dict[str, Any] = {"id": trigger.id, "state": trigger.state.value, "statusUrl": url}
    if duplicate is not None:
        body["duplicate"] = duplicate
    body["trigger"] = detail
    body["deliveries"] = []
    return to_json(body)  # pydantic's own serializer: the models' text, byte for byte (and 4 x json's speed)


@bp.post("")
def create_trigger() -> ResponseReturnValue:
    caller = authenticate()
    require_json()
    body = generic.parse_body(raw_body())
    wait = wait_seconds()  # the whole request is valid before anything is stored
    ctx = web()
    intake = generic.intake(body, caller=caller, received_at=ctx.service.clock.now(), headers=request.headers)
    receipt = ctx.service.take(intake)
    view = ctx.service.receipt_view(receipt, wait)
    return view_response(view, created=receipt.created, waited=True)


@bp.get("/<trigger_id>")
def get_trigger(trigger_id: str) -> ResponseReturnValue:
    caller = authenticate()
    wait = wait_seconds()
    service = web().service
    view = service.wait(trigger_id, wait) if wait else service.view(trigger_id)
    return view_response(view, waited=wait is not None, viewer=caller)


@bp.get("")
def list_triggers() -> ResponseReturnValue:
    caller = authenticate()
    args = request.args
    try:
        state = TriggerState(args["state"].upper()) if args.get("state") else None
        since = iso_time(args["since"]) if args.get("since") else None
        limit = min(max(int(args.get("limit", "50")), 1), 500)
    except ValueError as exc:
        raise InvalidRequest(f"Bad query parameter: {exc}.",
                             remediation="state is one of ACCEPTED, ATTACHED, DONE, SKIPPED; since is ISO 8601; "
                                         "limit is 1-500.") from None
    if since is not None and since.tzinfo is None:
        raise InvalidRequest("since needs a time zone, e.g. 2026-11-27T10:00:00Z.")
    found = web().service.audit_page(source=args.get("source") or None, state=state, since=since, limit=limit,
                                     before_id=args.get("before") or None,
                                     caller=args.get("caller") or None, instance=args.get("instance") or None)
    items = [view.status(status_url(view.trigger.id), viewer=caller) for view in found]
    next_page = None
    if len(found) == limit:
        query = {k: v for k, v in args.items() if k != "before"} | {"before": found[-1].trigger.id}
        next_page = f"{request.base_url}?{urlencode(query)}"
    return jsonify(TriggerPage(items=items, next=next_page).model_dump(mode="json", exclude_none=True))


OPENAPI = openapi.Described({
    "/v1/triggers": {
        "post": openapi.operation(
            "Ask for a backup (coalesced with one already running)",
            {**openapi.STATUS_RESPONSES, **openapi.errors(400, 401, 413, 415, 503)}, security=openapi.BEARER,
            parameters=[openapi.WAIT],
            body={"required": False,
                  "content": {"application/json": {"schema": openapi.ref(generic.GenericTriggerBody)}}}),
        "get": openapi.operation(
            "Audit trail: who asked for which backup, newest first",
            {"200": openapi.json_body(TriggerPage), **openapi.errors(400, 401)},
            security=openapi.BEARER, parameters=[
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("source", "state", "caller", "since", "limit", "before", "instance")]),
    },
    "/v1/triggers/{trigger_id}": {
        "get": openapi.operation("A trigger, its backup and every delivery attempt",
                                 {**openapi.STATUS_RESPONSES, **openapi.errors(400, 401, 404)},
                                 security=openapi.BEARER, parameters=[openapi.TRIGGER_ID, openapi.WAIT]),
    },
}, models=(generic.GenericTriggerBody, TriggerPage))
