"""The status page, ``/ui/``: read-only views of the store, server-rendered (Jinja, inline SVG, no script).

It starts nothing and calls nothing outside the store (through ``core.status.StatusService``). Every
page needs a credential (see ``auth``); every value goes through Jinja's autoescaping, and the
Content-Security-Policy allows no script at all, so a trigger's ``reason`` can only ever be text.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ... import __version__
from ...core.errors import InvalidRequest, NotFound, ServiceError
from ...core.status import StatusService, TriggerFilter, outcome_class
from ...core.triggers import TriggerState
from .. import openapi
from ..context import web
from ..errors import count_auth_refused, reference_token
from . import chart, formatting
from .auth import UiAuth, safe_next

log = logging.getLogger("webhook.ui")

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates", static_folder="static",
               static_url_path="/static")

SOURCES = ("generic", "terraform", "terraform-run-task", "alertmanager", "slack")
OPEN_ENDPOINTS = ("ui.login", "ui.static")
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def status() -> StatusService:
    found = web().status
    if found is None:
        raise ServiceError("The status page is not configured in this app.")
    return found


def auth() -> UiAuth:
    found: UiAuth | None = web().ui
    if found is None:
        raise ServiceError("The status page is not configured in this app.")
    return found


@bp.before_request
def require_viewer() -> ResponseReturnValue | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    viewer = auth().viewer()
    if viewer is not None:
        g.viewer = viewer
        return None
    if auth().bearer_refused():
        count_auth_refused("ui")
        return _error_page(401, "The bearer token is not valid for the status page.",
                           "Send a token from VCFBACKUP_UI_TOKENS (or, if that is unset, VCFBACKUP_API_TOKENS).")
    return redirect(url_for("ui.login", next=request.full_path.rstrip("?")), 303)


@bp.after_request
def harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "ui.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_global()
def ui_now() -> object:
    return web().service.clock.now()


@bp.record_once
def _template_globals(state: object) -> None:
    # Globals, not context: macros imported without context see them, and Jinja caches those imports.
    state.app.jinja_env.globals.update(fmt=formatting, outcome_class=outcome_class)  # type: ignore[attr-defined]


@bp.context_processor
def helpers() -> dict[str, object]:
    return {"version": __version__, "now": ui_now(), "viewer": g.get("viewer"),
            "backups_url": url_for("ui.overview") + "backups/"}  # rows link by string, not a url_for each


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError) -> ResponseReturnValue:
    return _error_page(error.status, error.message, error.remediation)


def _error_page(status_code: int, message: str, remediation: str) -> ResponseReturnValue:
    token = reference_token()
    log.log(logging.ERROR if status_code >= 500 else logging.WARNING, "status page refused", extra={
        "event": "ui.error", "status": status_code, "error": message, "referenceToken": token, "path": request.path})
    response = Response(render_template("ui/error.html", status=status_code, message=message,
                                        remediation=remediation, token=token), status_code)
    if status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="vcf-backup-webhook status page"'
    return response


# ---------------------------------------------------------------------- views
@bp.get("/")
def overview() -> ResponseReturnValue:
    views = status()
    drawn = chart.build(views.chart(30))
    title = (f"Backup durations (average bar, longest tick) and outcomes per day over the last {drawn.days} days")
    return render_template("ui/overview.html", instances=views.latest_backups(10), chart=drawn,
                           chart_svg=chart.svg(drawn, title), health=views.health(gave_up_limit=0))


@bp.get("/backups/<backup_id>")
def backup(backup_id: str) -> ResponseReturnValue:
    page = status().backup_page(backup_id)
    if page is None:
        raise NotFound(f"No backup with id {backup_id}.", remediation="Pick one from the overview.")
    return render_template("ui/backup.html", page=page, duration=(
        (page.backup.completed_at - (page.backup.submitted_at or page.backup.created_at)).total_seconds()
        if page.backup.completed_at else None))


@bp.get("/triggers")
def triggers() -> ResponseReturnValue:
    args = request.args
    try:
        state = TriggerState(args["state"].upper()) if args.get("state") else None
        limit = min(max(int(args.get("limit", "50")), 1), 500)
    except ValueError:
        raise InvalidRequest("Bad filter: state is one of ACCEPTED, ATTACHED, DONE, SKIPPED; limit is 1-500.") from None
    filters = TriggerFilter(source=args.get("source") or None, state=state, caller=args.get("caller") or None)
    found = status().triggers(filters, limit, args.get("before") or None)
    query = {k: v for k, v in (("source", filters.source), ("state", state.value if state else None),
                               ("caller", filters.caller)) if v}
    if limit != 50:
        query["limit"] = str(limit)
    older = (f"{url_for('ui.triggers')}?{urlencode(query | {'before': found.next_before})}"
             if found.next_before else None)
    api = "/v1/triggers" + (f"?{urlencode(query)}" if query else "")
    return render_template("ui/triggers.html", found=found, filters=filters, limit=limit, older=older,
                           newest=f"{url_for('ui.triggers')}?{urlencode(query)}" if args.get("before") else None,
                           sources=sorted(set(SOURCES) | ({filters.source} if filters.source else set())),
                           states=[s.value for s in TriggerState], api=api)


@bp.get("/health")
def health() -> ResponseReturnValue:
    return render_template("ui/health.html", health=status().health(gave_up_limit=20))


# ---------------------------------------------------------------------- login
@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    ui = auth()
    target = safe_next(request.values.get("next"))
    if request.method == "GET" and ui.viewer() is not None:
        return redirect(target, 303)
    message, status_code = None, 200
    if request.method == "POST":
        if not ui.login_form_valid(request.form.get("csrf")):
            message, status_code = "The login form expired or did not come from this page. Try again.", 400
        else:
            name = ui.token_name(request.form.get("token", "").strip())
            if name is not None:
                response = redirect(target, 303)
                ui.log_in(response, name)
                log.info("status page login", extra={"event": "ui.login", "caller": name})
                return response
            count_auth_refused("ui")
            log.warning("status page login refused", extra={"event": "ui.login_refused"})
            message, status_code = "That token is not valid for the status page.", 401
    nonce = secrets.token_urlsafe(16)
    response = Response(render_template("ui/login.html", csrf=nonce, next=target, message=message), status_code)
    ui.new_login_form(response, nonce)
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    viewer = g.viewer
    if viewer.how == "session" and not secrets.compare_digest(viewer.csrf or "", request.form.get("csrf", "")):
        raise InvalidRequest("The logout form did not come from this page.")
    response = redirect(url_for("ui.login"), 303)
    auth().log_out(response)
    return response


def _page(summary: str, *, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    html = {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
    return openapi.operation(summary, {"200": html, "303": {"description": "Not signed in: to /ui/login"},
                                       "401": {"description": "Bearer token not valid (HTML page)"}},
                             security=[{"bearer": []}, {"uiSession": []}], parameters=parameters, tag="status page")


_QUERY = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
          for n in ("source", "state", "caller", "limit", "before")]
PATHS: dict[str, dict[str, Any]] = {
    "/ui/": {"get": _page("Status page: latest backups per SDDC Manager, 30-day chart, service health")},
    "/ui/backups/{backup_id}": {"get": _page("One backup: its triggers, callbacks and attempts, SDDC Manager errors",
                                             parameters=[{"name": "backup_id", "in": "path", "required": True,
                                                          "schema": {"type": "string"}}])},
    "/ui/triggers": {"get": _page("Recent triggers, filterable and paged like GET /v1/triggers", parameters=_QUERY)},
    "/ui/health": {"get": _page("Store, worker heartbeat, SDDC Manager reachability, callbacks giving up")},
    "/ui/login": {
        "get": openapi.operation("Status page login form", {"200": {"description": "HTML form"}}, tag="status page"),
        "post": openapi.operation("Log in with a token (form; sets a signed HttpOnly cookie)",
                                  {"303": {"description": "Logged in"}, "400": {"description": "Form expired"},
                                   "401": {"description": "Token not valid"}}, tag="status page"),
    },
    "/ui/logout": {"post": openapi.operation("Log out (form)", {"303": {"description": "Logged out"}},
                                             tag="status page")},
    "/ui/static/{filename}": {"get": openapi.operation(
        "The status page's stylesheet", {"200": {"description": "CSS"}}, tag="status page",
        parameters=[{"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}])},
}
OPENAPI = openapi.Described(PATHS)
