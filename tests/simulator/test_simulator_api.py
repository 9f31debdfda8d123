"""Behaviour of the SDDC Manager simulator over real HTTP on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from webhook.simulator import SimulatorConfig, SimulatorServer, create_simulator_app
from webhook.simulator.jwt_tokens import decode_claims

USER = "admin@local"
PASSWORD = "VMware123!VMware123!"
SPEC = {"elements": [{"resourceType": "SDDC_MANAGER"}]}
FAST = 0.3  # seconds a backup runs in these tests


class Api:
    """A tiny hand-written client so the tests read like API calls."""

    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self.http = requests.Session()
        self.token: str | None = None
        self.refresh_id: str | None = None

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        kwargs.setdefault("timeout", 5)
        return self.http.request(method, self.sim.url + path, headers=headers, **kwargs)

    def login(self, password: str = PASSWORD) -> requests.Response:
        response = self.call("POST", "/v1/tokens", json={"username": USER, "password": password})
        if response.status_code == 201:
            self.token = response.json()["accessToken"]
            self.refresh_id = response.json()["refreshToken"]["id"]
        return response

    def start_backup(self) -> requests.Response:
        return self.call("POST", "/v1/backups/tasks", json=SPEC)

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def faults(self, document: dict[str, Any]) -> requests.Response:
        return self.http.post(self.sim.url + "/sim/faults", json=document, timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Api]]:
    """Start simulators with custom config; all are stopped after the test."""
    started: list[tuple[SimulatorServer, Api]] = []

    def factory(**config: Any) -> Api:
        sim = SimulatorServer(SimulatorConfig(**{"backup_seconds": FAST, **config})).start()
        api = Api(sim)
        started.append((sim, api))
        return api

    yield factory
    for sim, api in started:
        api.http.close()
        sim.stop()


@pytest.fixture
def api(make_sim: Callable[..., Api]) -> Api:
    """A logged-in client of a default simulator."""
    client = make_sim()
    assert client.login().status_code == 201
    return client


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["referenceToken"], str)
    if code is not None:
        assert body["errorCode"] == code
    return body  # type: ignore[no-any-return]


# --- authentication ------------------------------------------------------------
def test_login_with_valid_credentials_returns_201_token_pair(make_sim: Callable[..., Api]) -> None:
    client = make_sim()
    response = client.login()
    assert response.status_code == 201
    body = response.json()
    assert body["accessToken"].count(".") == 2
    assert isinstance(body["refreshToken"]["id"], str) and body["refreshToken"]["id"]
    assert client.sim.state.tokens_issued == 1


def test_wrong_password_is_refused_with_401_error_body(make_sim: Callable[..., Api]) -> None:
    client = make_sim()
    body = assert_error(client.login(password="wrong"), 401, "TOKEN_AUTHENTICATION_FAILED")
    assert body["remediationMessage"]
    assert client.sim.state.tokens_issued == 0


@pytest.mark.parametrize("payload", [b"{not json", b"", b'{"username": "admin@local"}', b"[]"])
def test_malformed_token_request_is_a_400_error(make_sim: Callable[..., Api], payload: bytes) -> None:
    client = make_sim()
    response = client.call("POST", "/v1/tokens", data=payload,
                           headers={"Content-Type": "application/json"})
    assert_error(response, 400, "INVALID_TOKEN_CREATION_SPEC")


def test_access_token_is_a_jwt_whose_exp_is_now_plus_ttl(make_sim: Callable[..., Api]) -> None:
    client = make_sim(token_ttl_seconds=120)
    before = time.time()
    client.login()
    claims = decode_claims(client.token or "")
    assert before + 120 - 2 <= claims["exp"] <= time.time() + 120 + 1
    assert claims["iat"] == claims["nbf"] and claims["iat"] <= time.time()
    assert claims["iss"] == "vcf-auth" and claims["aud"] == "sddc-services"
    assert claims["sub"] == claims["user"] == USER and claims["jti"]
    assert "BACKUP_CONFIG_READ" in claims["scope"]


def test_request_without_bearer_token_is_refused_with_401(make_sim: Callable[..., Api]) -> None:
    client = make_sim()
    body = assert_error(client.call("GET", "/v1/tasks"), 401, "UNAUTHORIZED")
    assert "Authorization" in body["message"]
    assert_error(client.call("GET", "/v1/tasks", headers={"Authorization": "Bearer nope"}), 401)


def test_expired_token_is_refused_with_401(make_sim: Callable[..., Api]) -> None:
    client = make_sim(token_ttl_seconds=0.2)
    client.login()
    assert client.call("GET", "/v1/tasks").status_code == 200
    time.sleep(0.3)
    body = assert_error(client.call("GET", "/v1/tasks"), 401, "UNAUTHORIZED")
    assert "expired" in body["message"]


def test_expire_tokens_now_fault_expires_every_issued_token(api: Api) -> None:
    assert api.faults({"expireTokensNow": True}).status_code == 200
    assert_error(api.call("GET", "/v1/tasks"), 401)
    api.login()
    assert api.call("GET", "/v1/tasks").status_code == 200


@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_refresh_gives_a_usable_token(api: Api, quoted: bool) -> None:
    api.faults({"expireTokensNow": True})
    old = api.token
    body = f'"{api.refresh_id}"' if quoted else str(api.refresh_id)
    response = api.call("PATCH", "/v1/tokens/access-token/refresh", data=body,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    new_token = response.json()
    assert isinstance(new_token, str) and new_token != old
    api.token = new_token
    assert api.call("GET", "/v1/tasks").status_code == 200
    assert api.sim.state.refreshes == 1


def test_refresh_with_unknown_id_is_404(api: Api) -> None:
    response = api.call("PATCH", "/v1/tokens/access-token/refresh", json="no-such-id")
    assert_error(response, 404, "REFRESH_TOKEN_NOT_FOUND")


def test_deleted_refresh_token_can_no_longer_refresh(api: Api) -> None:
    response = api.call("DELETE", "/v1/tokens/refresh-token", json=api.refresh_id)
    assert response.status_code == 204 and response.content == b""
    response = api.call("PATCH", "/v1/tokens/access-token/refresh", json=api.refresh_id)
    assert_error(response, 404)


# --- backups ---------------------------------------------------------------------
def test_backup_lifecycle_goes_from_in_progress_to_successful(api: Api) -> None:
    response = api.start_backup()
    assert response.status_code == 202
    backup = response.json()
    assert backup["status"] == "IN_PROGRESS" and backup["name"] == "SDDC Manager Backup"
    assert backup["resources"][0]["type"] == "SDDC_MANAGER"
    assert backup["resources"][0]["fqdn"] == "sddc-manager.vcf.sim"
    task = api.task(backup["id"])
    assert task["status"] == "In Progress" and task["type"] == "SDDCMANAGER_BACKUP"
    assert "completionTimestamp" not in task and "errors" not in task
    assert api.sim.state.running_ids() == [backup["id"]]
    wait_until(lambda: api.task(backup["id"])["status"] != "In Progress")
    task = api.task(backup["id"])
    assert task["status"] == "Successful"
    assert task["completionTimestamp"] > task["creationTimestamp"]
    assert all(sub["status"] == "SUCCESSFUL" for sub in task["subTasks"])
    assert api.sim.state.backups_started == 1


def test_failed_backup_carries_errors_with_message_and_remediation(make_sim: Callable[..., Api]) -> None:
    client = make_sim(outcome="FAILED", backup_seconds=0.1)
    client.login()
    task_id = client.start_backup().json()["id"]
    wait_until(lambda: client.task(task_id)["status"] == "Failed")
    task = client.task(task_id)
    error = task["errors"][0]
    assert error["errorCode"] == "SDDC_MANAGER_BACKUP_FAILED"
    assert "sftp.vcf.sim" in error["message"] and error["remediationMessage"]
    assert error["referenceToken"] == client.task(task_id)["errors"][0]["referenceToken"]
    failing = [sub for sub in task["subTasks"] if sub["status"] == "FAILED"]
    assert failing and failing[0]["errors"] and failing[0]["stages"][-1]["errors"]
    assert task["resolutionStatus"] == "UNRESOLVED"


@pytest.mark.parametrize(("style", "running", "done"), [
    ("title", "In Progress", "Successful"),
    ("upper", "IN_PROGRESS", "SUCCESSFUL"),
])
def test_task_status_is_spelled_per_status_style(
    make_sim: Callable[..., Api], style: str, running: str, done: str
) -> None:
    client = make_sim(status_style=style)
    client.login()
    task_id = client.start_backup().json()["id"]
    assert client.task(task_id)["status"] == running
    wait_until(lambda: client.task(task_id)["status"] == done)


def test_status_style_fault_switches_spelling_of_failed(api: Api) -> None:
    api.faults({"statusStyle": "upper", "outcome": "FAILED", "backupSeconds": 0})
    task_id = api.start_backup().json()["id"]
    assert api.task(task_id)["status"] == "FAILED"


def test_next_outcomes_queue_is_consumed_in_order(api: Api) -> None:
    api.faults({"backupSeconds": 0, "nextOutcomes": ["FAILED", "SUCCESSFUL", "FAILED"]})
    ids = [api.start_backup().json()["id"] for _ in range(4)]
    assert [api.task(i)["status"] for i in ids] == ["Failed", "Successful", "Failed", "Successful"]


def test_task_list_filtered_by_type_counts_every_backup(api: Api) -> None:
    api.faults({"backupSeconds": 0})
    finished = [api.start_backup().json()["id"] for _ in range(3)]
    api.faults({"backupSeconds": 30})
    running = api.start_backup().json()["id"]
    page = api.call("GET", "/v1/tasks", params={"taskType": "SDDCMANAGER_BACKUP"}).json()
    assert page["pageMetadata"]["totalElements"] == 4
    assert [t["id"] for t in page["elements"]] == [running, *reversed(finished)]  # newest first
    for status in ("In Progress", "IN_PROGRESS", "in progress"):
        only = api.call("GET", "/v1/tasks", params={"taskStatus": status}).json()
        assert [t["id"] for t in only["elements"]] == [running]
    assert api.call("GET", "/v1/tasks", params={"taskType": "HOST_COMMISSION"}).json()["elements"] == []
    paged = api.call("GET", "/v1/tasks", params={"pageSize": 3, "pageNumber": 1}).json()
    assert [t["id"] for t in paged["elements"]] == [finished[0]]
    assert paged["pageMetadata"] == {"pageNumber": 1, "pageSize": 3, "totalElements": 4, "totalPages": 2}
    assert len(api.call("GET", "/v1/tasks", params={"limit": 2}).json()["elements"]) == 2
    done = api.call("GET", "/v1/tasks", params={"completedAfter": 0}).json()["elements"]
    assert sorted(t["id"] for t in done) == sorted(finished)
    assert_error(api.call("GET", "/v1/tasks", params={"pageSize": "x"}), 400)


def test_not_configured_refuses_backup_and_reports_is_configured_false(make_sim: Callable[..., Api]) -> None:
    client = make_sim(configured=False)
    client.login()
    config = client.call("GET", "/v1/system/backup-configuration").json()
    assert config["isConfigured"] is False and config["backupLocations"] == []
    body = assert_error(client.start_backup(), 400, "BACKUP_NOT_CONFIGURED")
    assert "SFTP" in body["remediationMessage"] and "passphrase" in body["remediationMessage"]
    assert client.sim.state.backups_started == 0
    client.faults({"configured": True})
    assert client.start_backup().status_code == 202


def test_backup_configuration_reports_sftp_location_without_password(api: Api) -> None:
    config = api.call("GET", "/v1/system/backup-configuration").json()
    assert config["isConfigured"] is True
    location = config["backupLocations"][0]
    assert location["protocol"] == "SFTP" and location["port"] == 22
    assert "password" not in location
    assert config["backupSchedules"][0]["resourceType"] == "SDDC_MANAGER"


def test_refuse_concurrent_answers_400_backup_already_in_progress(make_sim: Callable[..., Api]) -> None:
    client = make_sim(refuse_concurrent=True)
    client.login()
    first = client.start_backup().json()["id"]
    body = assert_error(client.start_backup(), 400, "BACKUP_ALREADY_IN_PROGRESS")
    assert first in body["arguments"] and "already" in body["message"]
    wait_until(lambda: not client.sim.state.running_ids())
    assert client.start_backup().status_code == 202
    assert client.sim.state.backups_started == 2


def test_simultaneous_posts_with_refuse_concurrent_start_exactly_one_backup(
    make_sim: Callable[..., Api],
) -> None:
    client = make_sim(refuse_concurrent=True, backup_seconds=5)
    client.login()
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def post() -> None:
        with requests.Session() as http:
            barrier.wait()
            response = http.post(client.sim.url + "/v1/backups/tasks", json=SPEC, timeout=5,
                                 headers={"Authorization": f"Bearer {client.token}"})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202] + [400] * 5
    assert client.sim.state.backups_started == 1


@pytest.mark.parametrize("spec", [
    {}, {"elements": []}, {"elements": "SDDC_MANAGER"}, {"elements": [{}]},
    {"elements": [{"resourceType": ""}]}, {"elements": [{"resourceType": "NSXT_MANAGER"}]}, [],
])
def test_invalid_backup_spec_is_400(api: Api, spec: Any) -> None:
    body = assert_error(api.call("POST", "/v1/backups/tasks", json=spec), 400)
    assert body["remediationMessage"]
    assert api.sim.state.backups_started == 0


def test_unknown_task_is_404_task_not_found(api: Api) -> None:
    body = assert_error(api.call("GET", "/v1/tasks/does-not-exist"), 404, "TASK_NOT_FOUND")
    assert body["message"] == "Task not found"


def test_unknown_v1_route_answers_404_error_json(api: Api) -> None:
    assert_error(api.call("GET", "/v1/nothing-here"), 404, "NOT_FOUND")
    assert_error(api.call("PUT", "/v1/tasks"), 405)


# --- faults and inspection -----------------------------------------------------------
def test_fail_fault_returns_the_status_times_times_then_recovers(api: Api) -> None:
    task_id = api.start_backup().json()["id"]
    api.faults({"fail": [{"method": "GET", "path": "/v1/tasks/*", "status": 500, "times": 3}]})
    for _ in range(3):
        assert_error(api.call("GET", f"/v1/tasks/{task_id}"), 500)
    assert api.call("GET", f"/v1/tasks/{task_id}").status_code == 200
    assert api.call("GET", "/v1/tasks").status_code == 200  # glob did not match the list


def test_fail_fault_applies_before_auth_checks(make_sim: Callable[..., Api]) -> None:
    client = make_sim()
    client.faults({"fail": [{"path": "/v1/tokens", "status": 503, "errorCode": "DOWN"}]})
    assert_error(client.login(), 503, "DOWN")
    assert client.login().status_code == 201


def test_fail_fault_can_send_a_raw_non_json_body(api: Api) -> None:
    api.faults({"fail": [{"path": "/v1/tasks", "status": 502, "body": "<html>Bad Gateway</html>",
                          "headers": {"Retry-After": "1"}}]})
    response = api.call("GET", "/v1/tasks")
    assert response.status_code == 502 and response.text == "<html>Bad Gateway</html>"
    assert response.headers["Retry-After"] == "1"


def test_delay_after_fault_creates_the_task_before_answering(api: Api) -> None:
    api.faults({"delay": [{"method": "POST", "path": "/v1/backups/tasks", "seconds": 1.0,
                           "when": "after"}]})
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("POST", "/v1/backups/tasks", json=SPEC, timeout=0.3)
    assert api.sim.state.backups_started == 1
    listed = api.call("GET", "/v1/tasks", params={"taskType": "SDDCMANAGER_BACKUP"}).json()
    assert listed["pageMetadata"]["totalElements"] == 1


def test_delay_before_fault_slows_the_answer(api: Api) -> None:
    api.sim.state.add_delay("/v1/system/*", 0.3, method="GET")
    started = time.monotonic()
    assert api.call("GET", "/v1/system/backup-configuration").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_fault_document_is_rejected_with_400(api: Api) -> None:
    for document in ({"outcome": "MAYBE"}, {"fail": [{"status": 500}]}, {"typo": 1}, []):
        response = api.http.post(api.sim.url + "/sim/faults", json=document, timeout=5)
        assert response.status_code == 400 and response.json()["error"]


def test_sim_state_counts_and_never_exposes_the_password(api: Api) -> None:
    api.start_backup()
    text = api.http.get(api.sim.url + "/sim/state", timeout=5).text
    assert PASSWORD not in text
    state = api.http.get(api.sim.url + "/sim/state", timeout=5).json()
    assert state["backupsStarted"] == 1 and state["tokensIssued"] == 1 and len(state["running"]) == 1
    assert state["config"]["username"] == USER and "password" not in state["config"]


def test_reset_clears_tasks_faults_and_counters_but_keeps_config_defaults(api: Api) -> None:
    api.faults({"configured": False, "fail": [{"path": "/v1/tasks", "times": 5}]})
    assert api.http.post(api.sim.url + "/sim/reset", timeout=5).status_code == 200
    state = api.sim.state
    assert state.backups_started == 0 and state.tokens_issued == 0 and state.config.configured
    assert api.call("GET", "/v1/tasks").json()["elements"] == []  # token kept, fault gone
    assert len(state.exchanges()) == 1


def test_exchange_log_records_decoded_bodies(api: Api) -> None:
    api.start_backup()
    log = api.http.get(api.sim.url + "/sim/log", timeout=5).json()
    entry = log[-1]
    assert entry["method"] == "POST" and entry["path"] == "/v1/backups/tasks"
    assert entry["status"] == 202 and entry["requestBody"] == SPEC
    assert entry["responseBody"]["status"] == "IN_PROGRESS"


def test_state_is_scriptable_in_process_without_http() -> None:
    app = create_simulator_app(SimulatorConfig(backup_seconds=0))
    state = app.extensions["sddc_simulator"]
    state.add_failure("/v1/tasks", status=500, times=1, method="GET")
    client = app.test_client()
    token = client.post("/v1/tokens", json={"username": USER, "password": PASSWORD}).get_json()
    headers = {"Authorization": f"Bearer {token['accessToken']}"}
    assert client.get("/v1/tasks", headers=headers).status_code == 500
    assert client.post("/v1/backups/tasks", json=SPEC, headers=headers).status_code == 202
    assert state.backups_started == 1 and state.running_ids() == []


def test_server_binds_an_ephemeral_port_and_stops_cleanly() -> None:
    with SimulatorServer() as sim:
        assert sim.port > 0 and sim.url == f"http://127.0.0.1:{sim.port}"
        with requests.Session() as http:
            assert http.get(sim.url + "/sim/state", timeout=5).status_code == 200
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = sim.port


def test_the_first_read_that_finds_a_task_finished_is_noted_and_later_reads_do_not_move_it() -> None:
    from webhook.simulator.state import SimulatorState

    now = [1000.0]
    state = SimulatorState(SimulatorConfig(backup_seconds=10), clock=lambda: now[0])
    task = state.start_backup()
    state.task_view(task.id)
    assert state.end_read_at(task.id) is None  # still running
    now[0] = 1012.5
    state.task_view(task.id)
    now[0] = 1020.0
    state.task_view(task.id)
    assert state.end_read_at(task.id) == 1012.5  # the poller learnt of the end 2.5 s after it
