"""The /v1 routes: the SDDC Manager API subset, same paths and JSON.

Authentication is enforced by the app-level hook in app.py; these handlers
only implement each operation and its documented error answers.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from webhook.simulator.backup_config import render_backup_configuration
from webhook.simulator.config import normalise_status
from webhook.simulator.errors import error_body
from webhook.simulator.state import BackupRefused, SimulatorState
from webhook.simulator.tasks import render_backup_task

api = Blueprint("sddc_api", __name__, url_prefix="/v1")
MAX_PAGE_SIZE = 100
_SPEC_EXAMPLE = 'Send {"elements": [{"resourceType": "SDDC_MANAGER"}]}.'


def _state() -> SimulatorState:
    return current_app.extensions["sddc_simulator"]  # type: ignore[no-any-return]


def error_response(status: int, code: str, message: str, remediation: str | None = None,
                   arguments: list[str] | None = None) -> tuple[Response, int]:
    """A JSON `Error` answer with the given HTTP status."""
    return jsonify(error_body(code, message, remediation, arguments)), status


class _BadInput(Exception):
    """A request body or query parameter the operation cannot use."""


def _json_body() -> Any:
    raw = request.get_data(cache=True, as_text=True)
    if not raw.strip():
        raise _BadInput("Request body is missing")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _BadInput(f"Request body is not valid JSON: {getattr(exc, 'msg', exc)}") from None


def _bad_request(code: str, message: str, remediation: str) -> tuple[Response, int]:
    return error_response(400, code, message, remediation)


# --- tokens ---------------------------------------------------------------
@api.post("/tokens")
def create_token() -> tuple[Response, int]:
    """Log in with username/password and get a TokenPair (201)."""
    try:
        spec = _json_body()
    except _BadInput as exc:
        return _bad_request("INVALID_TOKEN_CREATION_SPEC", str(exc),
                            'Send {"username": "...", "password": "..."}.')
    if not isinstance(spec, dict) or not all(
        isinstance(spec.get(k), str) and spec.get(k) for k in ("username", "password")
    ):
        return _bad_request("INVALID_TOKEN_CREATION_SPEC", "Username and password are required",
                            'Send {"username": "...", "password": "..."}.')
    issued = _state().login(spec["username"], spec["password"])
    if issued is None:
        return error_response(401, "TOKEN_AUTHENTICATION_FAILED",
                              "Authentication failed: invalid username or password",
                              "Check the user name and password and try again. Repeated failures "
                              "may lock the account.")
    access, refresh_id = issued
    return jsonify({"accessToken": access, "refreshToken": {"id": refresh_id}}), 201


def _refresh_id() -> str:
    """Read the refresh id: a JSON string, or (leniently) the raw unquoted id."""
    raw = request.get_data(cache=True, as_text=True).strip()
    if not raw:
        raise _BadInput("Refresh token id is missing")
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except ValueError:
            raise _BadInput("Refresh token id is not a valid JSON string") from None
        if not isinstance(value, str) or not value:
            raise _BadInput("Refresh token id must be a non-empty string")
        return value
    if raw[0] in "{[":
        raise _BadInput("Refresh token id must be a JSON string, not an object or array")
    return raw


@api.patch("/tokens/access-token/refresh")
def refresh_access_token() -> tuple[Response, int]:
    """Trade a refresh id for a new access token, answered as a bare JSON string."""
    try:
        refresh_id = _refresh_id()
    except _BadInput as exc:
        return _bad_request("INVALID_REFRESH_TOKEN", str(exc), 'Send the refresh token id as a JSON string.')
    token = _state().refresh(refresh_id)
    if token is None:
        return error_response(404, "REFRESH_TOKEN_NOT_FOUND", "Refresh token not found or expired",
                              "Create a new token pair with POST /v1/tokens.", [refresh_id])
    return jsonify(token), 200


@api.delete("/tokens/refresh-token")
def invalidate_refresh_token() -> tuple[Response, int] | tuple[str, int]:
    """Revoke a refresh id; idempotent, like the documented 204-only operation."""
    try:
        _state().revoke_refresh(_refresh_id())
    except _BadInput as exc:
        return _bad_request("INVALID_REFRESH_TOKEN", str(exc), "Send the refresh token id as a JSON string.")
    return "", 204


# --- backups ---------------------------------------------------------------
def _check_backup_spec(spec: Any) -> tuple[Response, int] | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("elements"), list) or not spec["elements"]:
        return _bad_request("INVALID_BACKUP_SPEC",
                            "Invalid backup specification: elements must be a non-empty list",
                            _SPEC_EXAMPLE)
    for element in spec["elements"]:
        kind = element.get("resourceType") if isinstance(element, dict) else None
        if not isinstance(kind, str) or not kind:
            return _bad_request("INVALID_BACKUP_SPEC",
                                "Invalid backup specification: every element needs a resourceType",
                                _SPEC_EXAMPLE)
        if kind != "SDDC_MANAGER":
            return error_response(
                400, "BACKUP_RESOURCE_TYPE_NOT_SUPPORTED",
                f"Backup of resource type {kind} is not supported", "Only SDDC_MANAGER can be "
                "backed up on demand; NSX Manager backups follow the backup configuration. "
                + _SPEC_EXAMPLE, [kind])
    return None


@api.post("/backups/tasks")
def start_backup() -> tuple[Response, int]:
    """Start an SDDC Manager backup and answer 202 with a BackupTask."""
    try:
        spec = _json_body()
    except _BadInput as exc:
        return _bad_request("INVALID_BACKUP_SPEC", str(exc), _SPEC_EXAMPLE)
    refusal = _check_backup_spec(spec)
    if refusal is not None:
        return refusal
    try:
        record = _state().start_backup()
    except BackupRefused as exc:
        if exc.reason == "not_configured":
            return _bad_request(
                "BACKUP_NOT_CONFIGURED", "Backup is not configured: no backup location is set",
                "Configure an external SFTP backup location and an encryption passphrase "
                "(PATCH /v1/system/backup-configuration), then start the backup again.")
        return error_response(
            400, "BACKUP_ALREADY_IN_PROGRESS",
            f"A backup of SDDC Manager is already in progress (task {exc.running_id})",
            "Wait for the running backup task to finish, then start a new one.",
            [exc.running_id or ""])
    return jsonify(render_backup_task(record)), 202


@api.get("/system/backup-configuration")
def backup_configuration() -> tuple[Response, int]:
    """Report the backup location, schedule and whether both are configured."""
    return jsonify(render_backup_configuration(_state().config.configured)), 200


# --- tasks -------------------------------------------------------------------
@api.get("/tasks/<task_id>")
def get_task(task_id: str) -> tuple[Response, int]:
    """One task by id (404 "Task not found" when unknown)."""
    view = _state().task_view(task_id)
    if view is None:
        return error_response(404, "TASK_NOT_FOUND", "Task not found",
                              "Check the task id; GET /v1/tasks lists known tasks.", [task_id])
    return jsonify(view), 200


def _int_arg(name: str, minimum: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _BadInput(f"Query parameter {name} must be an integer") from None
    if value < minimum:
        raise _BadInput(f"Query parameter {name} must be >= {minimum}")
    return value


def _matches_filters(task: dict[str, Any]) -> bool:
    args = request.args
    if args.get("taskType") and task["type"].upper() != args["taskType"].strip().upper():
        return False
    if args.get("taskStatus") and normalise_status(task["status"]) != normalise_status(args["taskStatus"]):
        return False
    if args.get("taskName") and args["taskName"].lower() not in task["name"].lower():
        return False
    resources = task.get("resources", [])
    if args.get("resourceType") and all(r["type"] != args["resourceType"] for r in resources):
        return False
    return not args.get("resourceId") or any(r["resourceId"] == args["resourceId"] for r in resources)


@api.get("/tasks")
def list_tasks() -> tuple[Response, int]:
    """A PageOfTask, newest first, with the documented filters and paging."""
    try:
        limit = _int_arg("limit", 1)
        page_number = _int_arg("pageNumber", 0) or 0
        page_size = _int_arg("pageSize", 1)
        completed_after = _int_arg("completedAfter", 0)
    except _BadInput as exc:
        return _bad_request("INVALID_QUERY_PARAMETER", str(exc), "Fix the query parameter and retry.")
    tasks = [t for t in _state().task_views() if _matches_filters(t)]
    if completed_after is not None:
        tasks = [t for t in tasks if "completionTimestamp" in t
                 and _epoch_ms(t["completionTimestamp"]) > completed_after]
    if request.args.get("orderDirection", "").upper() == "ASC":
        tasks.reverse()
    if limit is not None:
        tasks = tasks[:limit]
    total = len(tasks)
    if page_size is None:  # unpaged: everything on page 0
        size, page, page_number = total, tasks, 0
    else:
        size = min(page_size, MAX_PAGE_SIZE)
        page = tasks[page_number * size:(page_number + 1) * size]
    pages = math.ceil(total / size) if size else 0
    metadata = {"pageNumber": page_number, "pageSize": size, "totalElements": total, "totalPages": pages}
    return jsonify({"elements": page, "pageMetadata": metadata}), 200


def _epoch_ms(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
