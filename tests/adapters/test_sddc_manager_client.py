"""The real client against the simulator over HTTP, and its requests held to the official spec subset."""

from __future__ import annotations

import time

import pytest
import requests

from webhook.adapters.sddc_manager import SddcManagerClient, jwt_expiry
from webhook.core.errors import SddcManagerError, SddcManagerUnreachable
from webhook.core.models import BackupSpec, TaskStatus
from webhook.simulator import SimulatorConfig, SimulatorServer

from tests.support.node import free_port
from tests.support.openapi_subset import validate_exchange

SPEC = BackupSpec.model_validate({"elements": [{"resourceType": "SDDC_MANAGER"}]})


@pytest.fixture
def sim():
    server = SimulatorServer(SimulatorConfig(backup_seconds=0.3, status_style="upper")).start()
    yield server
    server.stop()


def client_for(sim, **kwargs) -> SddcManagerClient:
    return SddcManagerClient(sim.url, "admin@local", "VMware123!VMware123!", retry_backoff=0.05, **kwargs)


def test_backup_lifecycle_and_every_exchange_conforms_to_the_spec(sim):
    client = client_for(sim)
    assert client.backup_configuration()["isConfigured"] is True
    started = client.start_backup(SPEC)
    assert started.status == "IN_PROGRESS" and started.id
    assert [t.id for t in client.list_backup_tasks()] == [started.id]
    time.sleep(0.4)
    assert client.get_task(started.id).normalized_status is TaskStatus.SUCCESSFUL
    client._expires_at = 0  # force the refresh path too
    client.get_task(started.id)
    log = requests.get(sim.url + "/sim/log").json()
    assert {e["path"] for e in log} >= {"/v1/tokens", "/v1/backups/tasks", "/v1/tasks",
                                        "/v1/tokens/access-token/refresh", "/v1/system/backup-configuration"}
    for exchange in log:
        validate_exchange(exchange["method"], exchange["path"], exchange["status"],
                          exchange["requestBody"], exchange["responseBody"])


def test_token_is_refreshed_before_its_exp(sim):
    sim.state.update_config(token_ttl_seconds=60)
    client = client_for(sim, refresh_margin=120)  # 60 s left is inside the margin
    client.list_backup_tasks()
    client.list_backup_tasks()
    assert sim.state.refreshes == 1
    assert jwt_expiry(client._access or "") is not None


def test_expired_token_is_renewed_once_and_the_call_retried(sim):
    client = client_for(sim)
    client.list_backup_tasks()
    sim.state.expire_tokens_now()
    assert client.list_backup_tasks() == []
    assert sim.state.tokens_issued == 2


def test_get_is_retried_on_5xx(sim):
    client = client_for(sim)
    sim.state.add_failure("/v1/tasks", status=503, times=2, method="GET")
    assert client.list_backup_tasks() == []


def test_post_is_never_retried_blindly(sim):
    client = client_for(sim)
    client.login()
    sim.state.add_failure("/v1/backups/tasks", status=500, times=1, method="POST")
    with pytest.raises(SddcManagerError) as caught:
        client.start_backup(SPEC)
    assert caught.value.http_status == 500
    assert sim.state.backups_started == 0
    posts = [e for e in requests.get(sim.url + "/sim/log").json() if e["path"] == "/v1/backups/tasks"]
    assert len(posts) == 1


def test_sddc_manager_error_body_is_kept(sim):
    sim.state.update_config(configured=False)
    with pytest.raises(SddcManagerError) as caught:
        client_for(sim).start_backup(SPEC)
    assert caught.value.http_status == 400
    assert caught.value.error.errorCode and caught.value.error.remediationMessage
    assert caught.value.as_sddc_error().referenceToken


def test_wrong_password_is_an_auth_failure_without_the_password_in_the_message(sim):
    client = SddcManagerClient(sim.url, "admin@local", "wrong-secret-xyz")
    with pytest.raises(SddcManagerError) as caught:
        client.list_backup_tasks()
    assert "wrong-secret-xyz" not in str(caught.value)


def test_unreachable_sddc_manager_raises_unreachable():
    client = SddcManagerClient(f"http://127.0.0.1:{free_port()}", "u", "p", get_retries=0, connect_timeout=0.5)
    with pytest.raises(SddcManagerUnreachable):
        client.list_backup_tasks()
