"""The status page in a real browser (Debian's headless Chromium) against a `serve` node and the simulator.

The node's history is real: a storm of triggers on one backup, a FAILED backup whose trigger's reason
is a script tag, and a callback that gave up (short budget, receiver answering 503). Each view must
render, agree with the API, show the reason as text, and stay shut without a credential. A
screenshot of each view (desktop, phone, dark) is written under tests/artifacts/.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import API_TOKEN
from tests.support.browser import chromium, screenshot
from tests.support.node import ServeProcess

UI_TOKEN = "ui-browser-token-0123456789"
TF_TOKEN = "terraform-token-0123456789"
SCRIPT = "<script>alert(1)</script>"
STORM = 24


def post(node: ServeProcess, token: str, body: dict[str, Any], wait: str = "") -> dict[str, Any]:
    answer = requests.post(f"{node.url}/v1/triggers{wait}", headers={"Authorization": f"Bearer {token}"}, json=body,
                           timeout=60)
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def api(node: ServeProcess, path: str) -> Any:
    answer = requests.get(node.url + path, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def make_history(node: ServeProcess, simulator: Any, receiver: Any) -> dict[str, str]:
    """A storm, a failed backup and a callback that gave up; returns their ids."""
    with ThreadPoolExecutor(8) as pool:
        storm = list(pool.map(lambda k: post(node, (API_TOKEN, TF_TOKEN)[k % 2], {
            "reason": f"storm change {k}", "callbackUrl": receiver.url()}), range(STORM)))
    last = wait_for(lambda: all(api(node, f"/v1/triggers/{t['id']}")["state"] == "DONE" for t in storm) and
                    api(node, f"/v1/triggers/{storm[-1]['id']}"))
    simulator.state.update_config(outcome="FAILED")
    failed = post(node, API_TOKEN, {"reason": SCRIPT, "callbackUrl": receiver.url()}, "?wait=30")
    assert failed["backup"]["status"] == "FAILED", failed
    simulator.state.update_config(outcome="SUCCESSFUL")
    # Callbacks go out on their own threads (a few per host at once), after their trigger is DONE: let
    # every one so far arrive before the receiver goes down, so only the next one gives up.
    wait_for(lambda: all(d["state"] == "DELIVERED" for t in [*storm, failed]
                         for d in api(node, f"/v1/triggers/{t['id']}")["deliveries"]), timeout=60)
    receiver.down_status = 503
    try:
        lost = post(node, API_TOKEN, {"reason": "nobody hears this", "callbackUrl": receiver.url("/gone")}, "?wait=30")
        wait_for(lambda: api(node, f"/v1/triggers/{lost['id']}")["deliveries"][0]["state"] == "GAVE_UP")
    finally:
        receiver.down_status = None
    return {"storm": last["backup"]["backupId"], "failed": failed["backup"]["backupId"], "failed_trigger": failed["id"],
            "lost": lost["backup"]["backupId"], "lost_trigger": lost["id"]}


def all_triggers(node: ServeProcess) -> list[dict[str, Any]]:
    return api(node, "/v1/triggers?limit=500")["items"]


def until(driver: Any, css: str) -> Any:
    """The element once the page that has it has loaded (a click's navigation may still be under way)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def row_ids(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.get_attribute("id") for row in driver.find_elements(By.CSS_SELECTOR, "table.triggers tbody tr[id]")]


def test_the_status_page_in_headless_chromium(serve_env, simulator, receiver):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    env = {**serve_env, "VCFBACKUP_UI_TOKENS": f"ops:{UI_TOKEN}", "VCFBACKUP_UI_SECRET": "u" * 32,
           "VCFBACKUP_API_TOKENS": f"ci:{API_TOKEN},terraform-ws:{TF_TOKEN}", "VCFBACKUP_CALLBACK_BUDGET": "3s",
           "VCFBACKUP_LOG_LEVEL": "WARNING"}
    simulator.state.update_config(backup_seconds=1.5)
    node = ServeProcess(env).start()
    try:
        ids = make_history(node, simulator, receiver)
        items = all_triggers(node)
        with chromium() as driver:
            # ---------------------------------------------------------- shut without a credential
            for path in ("/ui/", "/ui/triggers", "/ui/health", f"/ui/backups/{ids['failed']}"):
                driver.get(node.url + path)
                assert "/ui/login" in driver.current_url, path
                assert "trg_" not in driver.page_source and "storm change" not in driver.page_source
            screenshot(driver, "ui-login", width=1280)
            driver.find_element(By.ID, "token").send_keys("not-the-token")
            driver.find_element(By.CSS_SELECTOR, "form.login button").click()
            assert "not valid" in until(driver, ".alert").text
            driver.find_element(By.ID, "token").send_keys(UI_TOKEN)
            driver.find_element(By.CSS_SELECTOR, "form.login button").click()
            until(driver, f"tr[id='{ids['failed_trigger']}']")
            assert driver.current_url.endswith(f"/ui/backups/{ids['failed']}")  # where it was going

            # ---------------------------------------------------------- one backup: the failed one
            reason = driver.find_element(By.CSS_SELECTOR, f"tr[id='{ids['failed_trigger']}'] td.reason")
            assert reason.text == SCRIPT
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text  # noqa: B018 (the script never ran)
            failed_doc = next(i for i in items if i["id"] == ids["failed_trigger"])["backup"]
            errors = driver.find_element(By.CSS_SELECTOR, "ul.errors").text
            assert failed_doc["errors"][0]["message"] in errors
            if failed_doc["errors"][0].get("remediationMessage"):
                assert failed_doc["errors"][0]["remediationMessage"] in errors
            screenshot(driver, "ui-backup-failed", width=1280)
            screenshot(driver, "ui-backup-failed-phone", width=390, mobile=True)

            # ---------------------------------------------------------- one backup: the callback that gave up
            driver.get(f"{node.url}/ui/backups/{ids['lost']}")
            lost_doc = next(i for i in items if i["id"] == ids["lost_trigger"])
            summary = driver.find_element(By.CSS_SELECTOR, f"tr[id='{ids['lost_trigger']}'] details summary").text
            assert "GAVE_UP" in summary and f"{len(lost_doc['deliveries'][0]['attempts'])} attempt" in summary
            driver.find_element(By.CSS_SELECTOR, f"tr[id='{ids['lost_trigger']}'] details summary").click()
            attempts = driver.find_elements(By.CSS_SELECTOR, f"tr[id='{ids['lost_trigger']}'] ol.attempts li")
            assert len(attempts) == len(lost_doc["deliveries"][0]["attempts"]) and "HTTP 503" in attempts[0].text
            screenshot(driver, "ui-backup-gave-up", width=1280)

            # ---------------------------------------------------------- overview: counts match the API
            driver.get(node.url + "/ui/")
            storm_count = sum(1 for i in items if (i.get("backup") or {}).get("backupId") == ids["storm"])
            assert storm_count == STORM
            cell = driver.find_element(
                By.XPATH, f"//a[@href='/ui/backups/{ids['storm']}']/ancestor::tr/td[@data-count]")
            assert cell.text == str(storm_count)
            backups = {(i.get("backup") or {}).get("backupId") for i in items} - {None}
            assert driver.find_element(By.CSS_SELECTOR, "p.summary").text.startswith(f"{len(backups)} backups")
            assert len(driver.find_elements(By.CSS_SELECTOR, "svg rect.bar")) >= 2
            gave_up = sum(1 for i in items for d in i["deliveries"] if d["state"] == "GAVE_UP")
            card = driver.find_element(By.XPATH, "//h3[text()='Callbacks giving up']/following-sibling::p[1]")
            assert card.text == str(gave_up) == "1"
            screenshot(driver, "ui-overview", width=1280)
            screenshot(driver, "ui-overview-dark", width=1280, dark=True)
            assert driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(15, 18, 22)"
            screenshot(driver, "ui-overview-phone", width=390, mobile=True)
            assert driver.execute_script("return document.documentElement.scrollWidth") <= 390  # no sideways page
            screenshot(driver, "ui-overview-phone-dark", width=390, mobile=True, dark=True)

            # ---------------------------------------------------------- triggers: filters and pages like the API
            driver.get(node.url + "/ui/triggers?source=generic&caller=ci&limit=5")
            first = api(node, "/v1/triggers?source=generic&caller=ci&limit=5")
            assert row_ids(driver) == [i["id"] for i in first["items"]]
            driver.find_element(By.CSS_SELECTOR, "a[rel='next']").click()
            until(driver, f"tr[id='{api(node, first['next'].split(node.url)[1])['items'][0]['id']}']")
            second = requests.get(first["next"], headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
            assert row_ids(driver) == [i["id"] for i in second["items"]]
            driver.get(node.url + "/ui/triggers?state=DONE&caller=terraform-ws")
            expected = api(node, "/v1/triggers?state=DONE&caller=terraform-ws")["items"]
            assert row_ids(driver) == [i["id"] for i in expected] and len(expected) == STORM // 2
            driver.get(node.url + "/ui/triggers")
            assert SCRIPT in driver.find_element(By.CSS_SELECTOR, f"tr[id='{ids['failed_trigger']}'] td.reason").text
            screenshot(driver, "ui-triggers", width=1280)
            screenshot(driver, "ui-triggers-phone", width=390, mobile=True)

            # ---------------------------------------------------------- health
            driver.get(node.url + "/ui/health")
            assert "reachable" in driver.find_element(By.XPATH, "//h3[starts-with(text(),'SDDC Manager')]/..").text
            assert ids["lost_trigger"] in driver.find_element(By.CSS_SELECTOR, "main table").text
            screenshot(driver, "ui-health", width=1280)
            screenshot(driver, "ui-health-dark", width=1280, dark=True)

            # ---------------------------------------------------------- log out: shut again
            driver.find_element(By.CSS_SELECTOR, ".who button").click()
            until(driver, "form.login")
            driver.get(node.url + "/ui/")
            assert "/ui/login" in driver.current_url
    finally:
        node.kill()
