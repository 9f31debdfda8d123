"""Flask application factory for the SDDC Manager simulator.

App-wide hooks apply injected faults first, then bearer-token checks, and log
every /v1 exchange so a test can validate all traffic against the OpenAPI spec.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from webhook.simulator.api import api, error_response
from webhook.simulator.config import SimulatorConfig
from webhook.simulator.control import control
from webhook.simulator.errors import error_body, generic_error, status_error_code
from webhook.simulator.faults import FailRule
from webhook.simulator.state import SimulatorState

STATE_KEY = "sddc_simulator"
# Token operations authenticate by credentials or refresh id, not by bearer.
_PUBLIC_PATHS = frozenset({"/v1/tokens", "/v1/tokens/access-token/refresh", "/v1/tokens/refresh-token"})
_TEXT_LIMIT = 2000


def create_simulator_app(config: SimulatorConfig | None = None) -> Flask:
    """Build a simulator app; its state is `app.extensions["sddc_simulator"]`."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[STATE_KEY] = SimulatorState(config)
    app.register_blueprint(api)
    app.register_blueprint(control)
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _state() -> SimulatorState:
    return current_app.extensions[STATE_KEY]  # type: ignore[no-any-return]


def _is_api(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _before_request() -> Any:
    """Apply delay/fail faults, then require a valid bearer token on /v1."""
    if not _is_api(request.path):
        return None
    state = _state()
    delay = state.take_delay(request.method, request.path)
    if delay is not None:
        if delay.when == "before":
            time.sleep(delay.seconds)
        else:
            g.sim_delay_after = delay.seconds
    failure = state.take_failure(request.method, request.path)
    if failure is not None:
        return _fault_response(failure)
    if request.path in _PUBLIC_PATHS:
        return None
    return _auth_refusal(state)


def _auth_refusal(state: SimulatorState) -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "UNAUTHORIZED",
                              "Bad request! Authorization Header is missing or not in correct format",
                              "Send 'Authorization: Bearer <accessToken>' from POST /v1/tokens.")
    problem = state.check_access(token.strip())
    if problem == "expired":
        return error_response(401, "UNAUTHORIZED", "Access token has expired",
                              "Refresh it with PATCH /v1/tokens/access-token/refresh.")
    if problem is not None:
        return error_response(401, "UNAUTHORIZED", "Access token is invalid",
                              "Create a new token pair with POST /v1/tokens.")
    return None


def _fault_response(rule: FailRule) -> Response:
    if rule.body is not None:
        kind = "text/html" if rule.body.lstrip().startswith("<") else "text/plain"
        response = Response(rule.body, status=rule.status, content_type=kind)
    else:
        response = jsonify(generic_error(rule.status, rule.message, rule.error_code))
        response.status_code = rule.status
    for name, value in rule.headers.items():
        response.headers[name] = value
    return response


def _decode(raw: bytes) -> tuple[Any, str | None]:
    """(JSON value, None) or (None, raw text) when the bytes are not JSON."""
    if not raw:
        return None, None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text), None
    except ValueError:
        return None, text[:_TEXT_LIMIT]


def _after_request(response: Response) -> Response:
    """Log /v1 exchanges, then honour a "delay after" fault."""
    if not _is_api(request.path):
        return response
    request_body, request_text = _decode(request.get_data(cache=True))
    response_body, response_text = _decode(response.get_data())
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(flat=True),
        "status": response.status_code,
        "requestBody": request_body,
        "responseBody": response_body,
    }
    if request_text is not None:
        entry["requestText"] = request_text
    if response_text is not None:
        entry["responseText"] = response_text
    _state().record_exchange(entry)
    seconds = g.get("sim_delay_after")
    if seconds:
        time.sleep(seconds)
    return response


def _http_error(exc: HTTPException) -> BaseResponse:
    """Answer routing errors (404, 405, ...) with an `Error` body, as the API does."""
    response = exc.get_response()
    status = exc.code or 500
    body = error_body(status_error_code(status), exc.description or exc.name,
                      "Check the method and path against the API reference.")
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    response.status_code = status
    return response


def _unexpected_error(exc: Exception) -> Response:
    """A bug in the simulator still answers with an `Error` body (500)."""
    response = jsonify(generic_error(500, f"Simulator error: {type(exc).__name__}: {exc}"))
    response.status_code = 500
    return response
