"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from .context import web

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers; says nothing about its dependencies."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready when the store answers and a worker loop has beaten recently."""
    ctx = web()
    checks: dict[str, str] = {}
    ready = True
    try:
        ctx.service.store.ping()
        checks["store"] = "ok"
    except Exception as exc:  # any failure means not ready; the detail is for the operator
        checks["store"] = f"unavailable ({type(exc).__name__})"
        ready = False
    else:
        try:  # a store that answers reads but refuses writes cannot accept a single trigger
            ctx.service.store.check_writable()
        except Exception as exc:
            checks["store"] = f"answers but refuses writes ({_cause(exc)})"
            ready = False
    try:
        beat = ctx.service.store.last_heartbeat()
    except Exception:
        beat = None
    if beat is None:
        checks["worker"] = "no worker heartbeat"
        ready = False
    else:
        age = (ctx.service.clock.now() - beat).total_seconds()
        checks["worker"] = f"heartbeat {age:.1f} s ago"
        if age > ctx.worker_stale_after:
            ready = False
    try:
        faults = ctx.service.store.worker_faults()
    except Exception:
        faults = []
    if faults:  # beating, but its cycles keep failing: nothing advances
        checks["worker"] = "; ".join(faults[:3])
        ready = False
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503


def _cause(exc: Exception) -> str:
    cause = exc.__cause__ or exc
    return type(getattr(cause, "orig", None) or cause).__name__


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus exposition for the whole node (all web and worker processes)."""
    return Response(web().metrics_text(), headers={"Content-Type": CONTENT_TYPE})
