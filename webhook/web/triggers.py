"""The generic trigger API: ``POST /v1/triggers``, ``GET /v1/triggers/{id}``, ``GET /v1/triggers``."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from ..core.errors import InvalidRequest
from ..core.results import TriggerPage
from ..core.service import TriggerView
from ..core.triggers import TriggerState
from ..sources import generic
from ..sources.auth import caller_of_token
from .context import web
from .inbound import raw_body, require_json, status_url, wait_seconds

bp = Blueprint("triggers", __name__, url_prefix="/v1/triggers")


def authenticate() -> str:
    return caller_of_token(request.headers.get("Authorization"), web().api_tokens)


def view_response(view: TriggerView, *, created: bool | None = None, waited: bool = False) -> ResponseReturnValue:
    body = view.status(status_url(view.trigger.id), None if created is None else not created)
    status = 200 if (view.finished or (created is None and not waited)) else 202
    return current_app.response_class(body.model_dump_json(exclude_none=True), status,
                                      {"Location": body.statusUrl}, mimetype="application/json")


@bp.post("")
def create_trigger() -> ResponseReturnValue:
    caller = authenticate()
    require_json()
    body = generic.parse_body(raw_body())
    ctx = web()
    trigger = generic.to_trigger(body, caller=caller, received_at=ctx.service.clock.now(), headers=request.headers)
    receipt = ctx.service.accept(trigger)
    wait = wait_seconds()
    view = ctx.service.receipt_view(receipt, wait)
    return view_response(view, created=receipt.created, waited=True)


@bp.get("/<trigger_id>")
def get_trigger(trigger_id: str) -> ResponseReturnValue:
    authenticate()
    wait = wait_seconds()
    service = web().service
    view = service.wait(trigger_id, wait) if wait else service.view(trigger_id)
    return view_response(view, waited=wait is not None)


@bp.get("")
def list_triggers() -> ResponseReturnValue:
    authenticate()
    args = request.args
    try:
        state = TriggerState(args["state"].upper()) if args.get("state") else None
        since = datetime.fromisoformat(args["since"].replace("Z", "+00:00")) if args.get("since") else None
        limit = min(max(int(args.get("limit", "50")), 1), 500)
    except ValueError as exc:
        raise InvalidRequest(f"Bad query parameter: {exc}.",
                             remediation="state is one of ACCEPTED, ATTACHED, DONE, SKIPPED; since is ISO 8601; "
                                         "limit is 1-500.") from None
    if since is not None and since.tzinfo is None:
        raise InvalidRequest("since needs a time zone, e.g. 2026-11-27T10:00:00Z.")
    found = web().service.history(source=args.get("source") or None, state=state, since=since, limit=limit,
                                  before_id=args.get("before") or None, caller=args.get("caller") or None)
    items = [web().service.view(t.id).status(status_url(t.id)) for t in found]
    next_page = None
    if len(found) == limit:
        query = {k: v for k, v in args.items() if k != "before"} | {"before": found[-1].id}
        next_page = f"{request.base_url}?{urlencode(query)}"
    return jsonify(TriggerPage(items=items, next=next_page).model_dump(mode="json", exclude_none=True))
