"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from . import openapi
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
    found = ctx.service.readiness(ctx.worker_stale_after)
    body: dict[str, object] = {"status": "ready" if found.ready else "not ready", "checks": found.checks}
    if found.instances is not None:  # reported only: an unreachable instance does not make the node unready
        body["instances"] = found.instances
    return jsonify(body), 200 if found.ready else 503


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Prometheus exposition for the whole node (all web and worker processes)."""
    return Response(web().metrics_text(), headers={"Content-Type": CONTENT_TYPE})


OPENAPI = openapi.Described({
    "/healthz": {"get": openapi.operation("The process answers", {"200": {"description": "ok"}}, tag="ops")},
    "/readyz": {"get": openapi.operation("Store reachable and a worker loop beating",
                                         {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                                         tag="ops")},
    "/metrics": {"get": openapi.operation("Prometheus metrics", {"200": {"description": "text exposition"}},
                                          tag="ops")},
})
