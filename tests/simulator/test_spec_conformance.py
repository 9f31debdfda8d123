"""Every exchange the simulator answers conforms to the vendored OpenAPI subset.

The simulator is only a useful stand-in for SDDC Manager if its bodies match
the official schemas, so this drives every route through success and error
paths and validates the whole exchange log; a negative test proves the
validator is not vacuous.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from webhook.simulator import SimulatorConfig, SimulatorServer

from tests.support.openapi_subset import (
    match_path,
    validate_exchange,
    validate_request,
    validate_response,
    validate_schema,
)

CREDENTIALS = {"username": "admin@local", "password": "VMware123!VMware123!"}
SPEC = {"elements": [{"resourceType": "SDDC_MANAGER"}]}
# Requests sent malformed on purpose: their 400 answers are checked, their bodies are not.
_DELIBERATELY_BAD = {"INVALID_TOKEN_CREATION_SPEC", "INVALID_BACKUP_SPEC", "INVALID_REFRESH_TOKEN"}


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(backup_seconds=0.2, status_style="upper")) as server:
        yield server


def drive_every_route(url: str) -> None:
    """Exercise each operation the simulator implements, good and bad paths."""
    with requests.Session() as http:
        def call(method: str, path: str, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", 5)
            return http.request(method, url + path, **kwargs)

        def faults(document: dict[str, Any]) -> None:
            assert call("POST", "/sim/faults", json=document).status_code == 200

        # tokens: success, wrong password, malformed
        pair = call("POST", "/v1/tokens", json=CREDENTIALS).json()
        call("POST", "/v1/tokens", json={**CREDENTIALS, "password": "nope"})
        call("POST", "/v1/tokens", json={"username": "admin@local"})
        call("POST", "/v1/tokens", data="{oops", headers={"Content-Type": "application/json"})
        auth = {"Authorization": f"Bearer {pair['accessToken']}"}
        refresh_id = pair["refreshToken"]["id"]

        # refresh: quoted, unquoted, unknown, empty
        json_headers = {"Content-Type": "application/json"}
        call("PATCH", "/v1/tokens/access-token/refresh", json=refresh_id)
        call("PATCH", "/v1/tokens/access-token/refresh", data=refresh_id, headers=json_headers)
        call("PATCH", "/v1/tokens/access-token/refresh", json="unknown-id")
        call("PATCH", "/v1/tokens/access-token/refresh", data="", headers=json_headers)

        # auth failures on protected routes
        call("GET", "/v1/tasks")
        call("GET", "/v1/tasks", headers={"Authorization": "Bearer bogus"})

        # backups: success (both outcomes), invalid specs, not configured, concurrent
        ok = call("POST", "/v1/backups/tasks", json=SPEC, headers=auth).json()["id"]
        faults({"nextOutcomes": ["FAILED"]})
        failed = call("POST", "/v1/backups/tasks", json=SPEC, headers=auth).json()["id"]
        call("GET", f"/v1/tasks/{ok}", headers=auth)  # in progress
        call("POST", "/v1/backups/tasks", json={"elements": []}, headers=auth)
        call("POST", "/v1/backups/tasks", json={"elements": [{"resourceType": "VCENTER"}]}, headers=auth)
        faults({"refuseConcurrent": True})
        call("POST", "/v1/backups/tasks", json=SPEC, headers=auth)
        faults({"refuseConcurrent": False, "configured": False})
        call("POST", "/v1/backups/tasks", json=SPEC, headers=auth)
        call("GET", "/v1/system/backup-configuration", headers=auth)
        faults({"configured": True})
        call("GET", "/v1/system/backup-configuration", headers=auth)

        # tasks: finished (both outcomes, both spellings), unknown, list variants
        time.sleep(0.3)
        for task_id in (ok, failed, "no-such-task"):
            call("GET", f"/v1/tasks/{task_id}", headers=auth)
        faults({"statusStyle": "title"})
        call("GET", f"/v1/tasks/{failed}", headers=auth)
        call("GET", "/v1/tasks", headers=auth)
        call("GET", "/v1/tasks", params={"taskType": "SDDCMANAGER_BACKUP", "taskStatus": "Failed"},
             headers=auth)
        call("GET", "/v1/tasks", params={"pageNumber": 5, "pageSize": 1}, headers=auth)
        call("GET", "/v1/tasks", params={"limit": "many"}, headers=auth)

        # injected faults: documented (500) and undocumented (503) statuses
        faults({"fail": [{"method": "GET", "path": "/v1/tasks/*", "status": 500},
                         {"method": "POST", "path": "/v1/tokens", "status": 503}]})
        call("GET", f"/v1/tasks/{ok}", headers=auth)
        call("POST", "/v1/tokens", json=CREDENTIALS)

        # revoke the refresh token
        call("DELETE", "/v1/tokens/refresh-token", json=refresh_id)


def test_every_logged_exchange_conforms_to_the_openapi_subset(sim: SimulatorServer) -> None:
    drive_every_route(sim.url)
    with requests.Session() as http:
        log = http.get(sim.url + "/sim/log", timeout=5).json()
    assert len(log) >= 30
    for entry in log:
        response = entry["responseBody"]
        deliberate = "requestText" in entry or (
            isinstance(response, dict) and response.get("errorCode") in _DELIBERATELY_BAD
        )
        try:
            validate_exchange(entry["method"], entry["path"], entry["status"],
                              entry["requestBody"], response, check_request=not deliberate)
        except AssertionError as exc:
            raise AssertionError(f"{entry['method']} {entry['path']} -> {entry['status']}: {exc}") from exc


def test_drive_covers_every_route_and_status_the_simulator_implements(sim: SimulatorServer) -> None:
    drive_every_route(sim.url)
    seen = {(e["method"], match_path(e["path"]), e["status"]) for e in sim.state.exchanges()}
    expected = {
        ("POST", "/v1/tokens", 201), ("POST", "/v1/tokens", 401), ("POST", "/v1/tokens", 400),
        ("POST", "/v1/tokens", 503),
        ("PATCH", "/v1/tokens/access-token/refresh", 200),
        ("PATCH", "/v1/tokens/access-token/refresh", 404),
        ("PATCH", "/v1/tokens/access-token/refresh", 400),
        ("DELETE", "/v1/tokens/refresh-token", 204),
        ("POST", "/v1/backups/tasks", 202), ("POST", "/v1/backups/tasks", 400),
        ("GET", "/v1/tasks/{id}", 200), ("GET", "/v1/tasks/{id}", 404), ("GET", "/v1/tasks/{id}", 500),
        ("GET", "/v1/tasks", 200), ("GET", "/v1/tasks", 401), ("GET", "/v1/tasks", 400),
        ("GET", "/v1/system/backup-configuration", 200),
    }
    assert expected <= seen, expected - seen
    statuses = {e["responseBody"]["status"] for e in sim.state.exchanges()
                if e["path"].startswith("/v1/tasks/") and e["status"] == 200}
    assert {"IN_PROGRESS", "SUCCESSFUL", "FAILED", "Failed"} <= statuses


# --- the validator itself ------------------------------------------------------
def test_validator_rejects_a_task_without_id() -> None:
    task = {"name": "SDDC Manager Backup", "status": "Successful",
            "creationTimestamp": "2024-01-01T00:00:00.000Z"}
    with pytest.raises(AssertionError, match="'id' is a required property"):
        validate_exchange("GET", "/v1/tasks/abc", 200, None, task)
    with pytest.raises(AssertionError, match="Task"):
        validate_schema("Task", task)


@pytest.mark.parametrize(("method", "path", "status", "request_body", "response_body", "needle"), [
    ("PATCH", "/v1/tokens/access-token/refresh", 200, "id", {"accessToken": "x"}, "not of type"),
    ("POST", "/v1/backups/tasks", 202, {"elements": "SDDC_MANAGER"}, {"id": "x"}, "elements"),
    ("POST", "/v1/backups/tasks", 202, SPEC, None, "must have a JSON body"),
    ("GET", "/v1/tasks", 200, None, {"elements": [{"id": 1}]}, "elements"),
    ("GET", "/v1/tasks", 401, None, {"errorCode": 401}, "undocumented status"),
    ("DELETE", "/v1/tokens/refresh-token", 204, "id", {"unexpected": True}, "without a body"),
    ("GET", "/v1/tasks", 200, {"unexpected": True}, {"elements": []}, "takes no request body"),
    ("POST", "/v1/tokens", 201, None, {"accessToken": "x"}, "required but missing"),
    ("GET", "/v1/no-such-path", 200, None, None, "matches no path"),
    ("PUT", "/v1/tasks", 200, None, None, "not an operation"),
])
def test_validator_catches_non_conforming_exchanges(
    method: str, path: str, status: int, request_body: Any, response_body: Any, needle: str
) -> None:
    with pytest.raises(AssertionError, match=needle):
        validate_exchange(method, path, status, request_body, response_body)


def test_validator_accepts_conforming_bodies_and_ignores_query_strings() -> None:
    validate_exchange("GET", "/v1/tasks?taskType=SDDCMANAGER_BACKUP", 200, None,
                      {"elements": [], "pageMetadata": {"pageNumber": 0, "pageSize": 0,
                                                        "totalElements": 0, "totalPages": 0}})
    validate_request("POST", "/v1/tokens", CREDENTIALS)
    validate_response("GET", "/v1/tasks/x", 503, None)
    validate_response("GET", "/v1/tasks/x", 429, {"errorCode": "TOO_MANY_REQUESTS", "message": "slow down"})
