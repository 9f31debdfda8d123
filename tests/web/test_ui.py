"""The status page over real HTTP: who may read it, what it shows, and that it only ever shows text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import API_TOKEN
from tests.support.node import InProcessNode, delivered_view

UI_TOKEN = "ui-token-abcdefghijkl"
PAGES = ("/ui/", "/ui/triggers", "/ui/health", "/ui/triggers?state=DONE&caller=ci")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def ui_node(make_settings) -> Iterator[InProcessNode]:
    running = InProcessNode(make_settings(ui_tokens={"ops": UI_TOKEN}, ui_secret="s" * 32,
                                          ui_proxy_user_header="X-Forwarded-User")).start()
    yield running
    running.stop()


def done_trigger(node: InProcessNode, **body: str) -> dict:
    answer = requests.post(node.url + "/v1/triggers?wait=20", headers={"Authorization": f"Bearer {API_TOKEN}"},
                           json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def login(node: InProcessNode, token: str = UI_TOKEN) -> requests.Session:
    session = requests.Session()
    form = session.get(node.url + "/ui/login?next=/ui/health")
    answer = session.post(node.url + "/ui/login", data={"token": token, "csrf": csrf_of(form.text),
                                                        "next": "/ui/health"}, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"].endswith("/ui/health")
    return session


def ui_refusals(node: InProcessNode) -> float:
    found = re.search(r'^vcfbackup_auth_refused_total\{source="ui"\} (\S+)$', requests.get(node.url + "/metrics").text,
                      re.M)
    return float(found.group(1)) if found else 0.0


def test_no_page_is_readable_without_a_credential(ui_node):
    backup_id = done_trigger(ui_node, reason="secret plans")["backup"]["backupId"]
    before = ui_refusals(ui_node)  # the registry is the process's: other tests count too
    for page in (*PAGES, f"/ui/backups/{backup_id}"):
        answer = requests.get(ui_node.url + page, allow_redirects=False)
        assert answer.status_code == 303 and "/ui/login" in answer.headers["Location"]
        followed = requests.get(ui_node.url + page)
        assert "secret plans" not in followed.text and "trg_" not in followed.text
        for token in ("wrong", API_TOKEN):  # API tokens do not open the page once UI tokens are set
            refused = requests.get(ui_node.url + page, headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401 and "secret plans" not in refused.text
        spoofed = requests.get(ui_node.url + page, headers={"X-Other-User": "mallory"}, allow_redirects=False)
        assert spoofed.status_code == 303
    assert ui_refusals(ui_node) - before == 10


def test_login_sets_a_signed_httponly_samesite_cookie_and_logout_clears_it(ui_node):
    session = login(ui_node)
    cookie = next(c for c in session.cookies if c.name == "vcfbackup_ui")
    assert cookie.path == "/ui" and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie._rest.get("SameSite") == "Lax"  # noqa: SLF001 (requests keeps it there)
    page = session.get(ui_node.url + "/ui/")
    assert page.status_code == 200 and "ops" in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert page.headers["Cache-Control"] == "no-store"
    tampered = requests.Session()
    tampered.cookies.set("vcfbackup_ui", cookie.value[:-2] + "xx", path="/ui")
    assert tampered.get(ui_node.url + "/ui/", allow_redirects=False).status_code == 303
    out = session.post(ui_node.url + "/ui/logout", data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert out.status_code == 303
    assert session.get(ui_node.url + "/ui/", allow_redirects=False).status_code == 303


def test_login_refuses_a_wrong_token_a_forged_form_and_a_foreign_next(ui_node):
    session = requests.Session()
    form = session.get(ui_node.url + "/ui/login")
    wrong = session.post(ui_node.url + "/ui/login", data={"token": "nope", "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    forged = requests.post(ui_node.url + "/ui/login", data={"token": UI_TOKEN, "csrf": "made-up"},
                           allow_redirects=False)
    assert forged.status_code == 400 and "vcfbackup_ui=" not in forged.headers.get("Set-Cookie", "")
    form = session.get(ui_node.url + "/ui/login")
    away = session.post(ui_node.url + "/ui/login", data={"token": UI_TOKEN, "csrf": csrf_of(form.text),
                                                         "next": "//evil.example.com/ui/"}, allow_redirects=False)
    assert away.status_code == 303 and away.headers["Location"].endswith("/ui/")
    assert "evil" not in away.headers["Location"]


def test_a_session_ends_when_its_token_is_rotated(make_settings):
    first = InProcessNode(make_settings(ui_tokens={"ops": UI_TOKEN}, ui_secret="k" * 32)).start()
    try:
        cookie = login(first).cookies.get("vcfbackup_ui")
    finally:
        first.stop()
    rotated = InProcessNode(make_settings(ui_tokens={"ops": "a-new-token-0000"}, ui_secret="k" * 32)).start()
    try:
        answer = requests.get(rotated.url + "/ui/", cookies={"vcfbackup_ui": cookie}, allow_redirects=False)
        assert answer.status_code == 303
    finally:
        rotated.stop()


def test_bearer_and_the_configured_proxy_header_open_the_page(ui_node):
    assert requests.get(ui_node.url + "/ui/", headers={"Authorization": f"Bearer {UI_TOKEN}"}).status_code == 200
    proxied = requests.get(ui_node.url + "/ui/", headers={"X-Forwarded-User": "alice@example.com"})
    assert proxied.status_code == 200 and "alice@example.com" in proxied.text


def test_api_tokens_open_the_page_when_no_ui_tokens_are_set(node, auth):
    assert requests.get(node.url + "/ui/", headers=auth).status_code == 200
    assert requests.get(node.url + "/ui/", headers={"X-Forwarded-User": "alice"},
                        allow_redirects=False).status_code == 303  # no proxy header configured


def test_a_reason_is_shown_as_text_never_as_markup(ui_node):
    body = done_trigger(ui_node, reason="<script>alert(1)</script>", idempotencyKey='"><img src=x onerror=alert(2)>')
    bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
    for page in ("/ui/triggers", f"/ui/backups/{body['backup']['backupId']}"):
        html = requests.get(ui_node.url + page, headers=bearer).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script" not in html and "<img" not in html


def test_views_show_what_the_api_shows(ui_node, receiver):
    bodies = [done_trigger(ui_node, reason=f"change {k}", callbackUrl=receiver.url()) for k in range(3)]
    receiver.wait_for(3)
    delivered_view(ui_node, {"Authorization": f"Bearer {API_TOKEN}"}, bodies[-1]["id"])  # recorded, not only sent
    bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
    api = requests.get(ui_node.url + "/v1/triggers?limit=2", headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    page = requests.get(ui_node.url + "/ui/triggers?limit=2", headers=bearer).text
    assert re.findall(r'<tr id="(trg_\w+)"', page) == [item["id"] for item in api["items"]]
    older = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    api_older = requests.get(api["next"], headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    assert re.findall(r'<tr id="(trg_\w+)"', requests.get(ui_node.url + older, headers=bearer).text) == \
        [item["id"] for item in api_older["items"]]
    backup = bodies[-1]["backup"]
    detail = requests.get(ui_node.url + f"/ui/backups/{backup['backupId']}", headers=bearer).text
    assert backup["id"] in detail and "DELIVERED" in detail and "change 2" in detail
    filtered = requests.get(ui_node.url + "/ui/triggers?caller=nobody", headers=bearer).text
    assert "No triggers match" in filtered


def test_unknown_backup_and_bad_filters_are_clear_pages_not_errors(ui_node):
    bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
    missing = requests.get(ui_node.url + "/ui/backups/bkp_nope", headers=bearer)
    assert missing.status_code == 404 and "No backup with id bkp_nope" in missing.text
    bad = requests.get(ui_node.url + "/ui/triggers?state=<b>x</b>", headers=bearer)
    assert bad.status_code == 400 and "<b>" not in bad.text


def test_a_running_backup_says_how_long_it_has_been_running(make_settings, simulator):
    simulator.state.update_config(backup_seconds=30)
    node = InProcessNode(make_settings(ui_tokens={"ops": UI_TOKEN})).start()
    try:
        answer = requests.post(node.url + "/v1/triggers?wait=2", headers={"Authorization": f"Bearer {API_TOKEN}"},
                               json={"reason": "long one"}, timeout=30)
        assert answer.status_code == 202
        bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
        backup_id = requests.get(answer.headers["Location"], headers={"Authorization": f"Bearer {API_TOKEN}"}
                                 ).json()["backup"]["backupId"]
        overview = requests.get(node.url + "/ui/", headers=bearer).text
        assert "IN_PROGRESS" in overview and "running</span>" in overview
        assert "running for" in requests.get(node.url + f"/ui/backups/{backup_id}", headers=bearer).text
    finally:
        node.stop()
