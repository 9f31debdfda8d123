"""The /sim routes: inspection and fault scripting for tests and demos.

Deliberately outside /v1, unauthenticated and plain JSON, so a test can
steer the simulator without a token and without looking like API traffic.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request

from webhook.simulator.state import SimulatorState

control = Blueprint("sddc_sim_control", __name__, url_prefix="/sim")


def _state() -> SimulatorState:
    return current_app.extensions["sddc_simulator"]  # type: ignore[no-any-return]


@control.get("/state")
def state() -> Response:
    """Counters, running backups and the effective config (no password)."""
    return jsonify(_state().snapshot())


@control.get("/log")
def log() -> Response:
    """Every recorded /v1 exchange, oldest first."""
    return jsonify(_state().exchanges())


@control.post("/faults")
def faults() -> tuple[Response, int]:
    """Apply a fault document; 400 with {"error": ...} when it is malformed."""
    try:
        document = json.loads(request.get_data(as_text=True) or "{}")
        _state().apply_faults(document)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(_state().snapshot()), 200


@control.post("/reset")
def reset() -> Response:
    """Clear faults, tasks, counters and the log; restore the initial config."""
    _state().reset()
    return jsonify(_state().snapshot())
