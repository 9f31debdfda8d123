"""Bad input gets a clear 4xx Error body whose referenceToken is also in the log; never a 500."""

from __future__ import annotations

import logging

import pytest

from webhook.app import Services, build_store, create_app

from tests.conftest import API_TOKEN
from tests.support.logs import Records


@pytest.fixture
def client(make_settings):
    settings = make_settings(max_body_bytes=2048, callback_allowed_hosts=["hooks.example.com"],
                             callback_allow_http=False)
    app = create_app(settings, services=Services(settings=settings, store=build_store(settings)))
    return app.test_client()


@pytest.fixture
def logged():
    handler = Records()
    logging.getLogger("webhook").addHandler(handler)
    yield handler
    logging.getLogger("webhook").removeHandler(handler)


AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize(("body", "status", "code", "fragment"), [
    (b"{not json", 400, "VCFBACKUP_INVALID_REQUEST", "not valid JSON"),
    (b"[1, 2]", 400, "VCFBACKUP_INVALID_REQUEST", "must be a JSON object"),
    (b'{"elements": "SDDC_MANAGER"}', 400, "VCFBACKUP_INVALID_REQUEST", "elements"),
    (b'{"elements": [{"resourceType": "NSX_MANAGER"}]}', 400, "VCFBACKUP_INVALID_REQUEST", "not supported"),
    (b'{"elements": []}', 400, "VCFBACKUP_INVALID_REQUEST", "elements"),
    (b'{"callbackURL": "https://hooks.example.com"}', 400, "VCFBACKUP_INVALID_REQUEST", "callbackURL"),
    (b'{"reuseIfNewerThan": "soon"}', 400, "VCFBACKUP_INVALID_REQUEST", "duration"),
    (b'{"callbackUrl": "https://evil.example.com/x"}', 400, "VCFBACKUP_CALLBACK_REFUSED", "allowlist"),
    (b'{"callbackUrl": "http://hooks.example.com/x"}', 400, "VCFBACKUP_CALLBACK_REFUSED", "plain http"),
    (b'{"callbackUrl": "https://169.254.169.254/"}', 400, "VCFBACKUP_CALLBACK_REFUSED", "metadata"),
    (b"\xff\xfe", 400, "VCFBACKUP_INVALID_REQUEST", "JSON"),
    (b"x" * 5000, 413, "VCFBACKUP_PAYLOAD_TOO_LARGE", ""),
])
def test_bad_trigger_bodies_get_a_clear_4xx(client, logged, body, status, code, fragment):
    response = client.post("/v1/triggers", data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status
    error = response.get_json()
    assert error["errorCode"] == code
    assert fragment in error["message"]
    assert error["remediationMessage"]
    assert any(getattr(r, "referenceToken", None) == error["referenceToken"] for r in logged.records)
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer"}])
def test_missing_or_wrong_token_is_401_and_nothing_is_stored(client, headers):
    response = client.post("/v1/triggers", json={}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["errorCode"] == "VCFBACKUP_UNAUTHENTICATED"
    assert client.get("/v1/triggers", headers=AUTH).get_json()["items"] == []


def test_wrong_content_type_is_415(client):
    form = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/v1/triggers", data="a=b", headers=form)
    assert response.status_code == 415


def test_unknown_route_and_method_use_the_error_body(client):
    assert client.get("/nope").get_json()["errorCode"] == "VCFBACKUP_NOT_FOUND"
    assert client.delete("/v1/triggers", headers=AUTH).get_json()["errorCode"] == "VCFBACKUP_METHOD_NOT_ALLOWED"


def test_unknown_trigger_is_404(client):
    response = client.get("/v1/triggers/trg_nope", headers=AUTH)
    assert response.status_code == 404 and response.get_json()["referenceToken"]


def test_bad_wait_is_400(client):
    assert client.post("/v1/triggers?wait=forever", json={}, headers=AUTH).status_code == 400


@pytest.mark.parametrize("path", ["/v1/triggers?wait=banana", "/hooks/terraform?wait=banana"])
def test_bad_wait_stores_nothing(client, path):
    """A 400 says "fix and resend": the resend must not make a second trigger."""
    response = client.post(path, json={"reason": "x"}, headers=AUTH)
    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "VCFBACKUP_INVALID_REQUEST"
    assert client.get("/v1/triggers", headers=AUTH).get_json()["items"] == []


def test_empty_body_means_the_default_backup(client):
    response = client.post("/v1/triggers", headers=AUTH)
    assert response.status_code == 202
    assert response.get_json()["trigger"]["elements"] == [{"resourceType": "SDDC_MANAGER"}]


def test_store_failure_is_503_so_senders_retry(make_settings, tmp_path):
    settings = make_settings()
    store = build_store(settings)
    app = create_app(settings, services=Services(settings=settings, store=store))
    store.engine.dispose()
    (tmp_path / "store.db").unlink()
    (tmp_path / "store.db").mkdir()  # the database file is now a directory: every query fails
    response = app.test_client().post("/v1/triggers", json={}, headers=AUTH)
    assert response.status_code == 503
    assert response.get_json()["errorCode"] == "VCFBACKUP_STORE_UNAVAILABLE"
