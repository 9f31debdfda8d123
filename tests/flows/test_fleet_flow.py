"""A fleet of three simulated SDDC Managers behind one node: routing, coalescing and fan-out per instance."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.conftest import API_TOKEN, SIGNING_SECRET
from tests.flows.test_slack_flow import SLACK_SECRET, command
from tests.support.alertmanager import AlertmanagerProcess, alert, am_config, find_binary, webhook_config
from tests.support.fleet import PASSWORD_ENV, REGIONS, blackhole, simulators, write_fleet_file
from tests.support.node import InProcessNode, free_port
from tests.test_cli import run


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "VMware123!VMware123!")


@pytest.fixture
def sims(fleet_env) -> Iterator[dict]:
    with simulators() as running:
        yield running


@pytest.fixture
def fleet_node(tmp_path, sims, make_settings) -> Iterator[InProcessNode]:
    path = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
    node = InProcessNode(make_settings(sddc_url="", sddc_managers_file=str(path))).start()
    yield node
    node.stop()


def post(node, auth, **body) -> requests.Response:
    return requests.post(node.url + "/v1/triggers", headers=auth, json=body, timeout=10)


def started(sims) -> dict[str, int]:
    return {name: sim.state.backups_started for name, sim in sims.items()}


def wait_done(node, auth, trigger_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        view = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth, timeout=10).json()
        if view["state"] == "DONE" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def test_a_targeted_trigger_lands_on_its_instance_only(fleet_node, sims, receiver, auth):
    response = post(fleet_node, auth, target="us-east", callbackUrl=receiver.url())
    assert response.status_code == 202
    [callback] = receiver.wait_for(1)
    body = Webhook(SIGNING_SECRET).verify(callback.body, callback.headers)
    assert body["status"] == "SUCCESSFUL" and body["trigger"]["id"] == response.json()["id"]
    assert started(sims) == {"eu-west": 0, "us-east": 1, "ap-south": 0}


def test_an_unknown_target_is_a_400_that_lists_the_known_names(fleet_node, sims, auth):
    response = post(fleet_node, auth, target="mars")
    assert response.status_code == 400
    error = response.json()
    assert error["errorCode"] == "VCFBACKUP_UNKNOWN_TARGET"
    assert all(name in error["message"] for name in REGIONS)
    no_target = post(fleet_node, auth)  # three instances and no default: the caller must say which
    assert no_target.status_code == 400 and "eu-west" in no_target.json()["message"]
    assert post(fleet_node, auth, selector={"region": "moon"}).status_code == 400
    assert sum(started(sims).values()) == 0


def test_a_fan_out_opens_one_backup_per_instance_and_one_callback_with_every_result(fleet_node, sims, receiver,
                                                                                   auth):
    sims["ap-south"].state.update_config(outcome="FAILED")
    response = post(fleet_node, auth, selector={}, reason="fleet-wide", callbackUrl=receiver.url())
    assert response.status_code == 202
    [callback] = receiver.wait_for(1)
    body = Webhook(SIGNING_SECRET).verify(callback.body, callback.headers)
    assert body["outcome"] == "partial" and body["trigger"]["id"] == response.json()["id"]
    by_instance = {item["instance"]: item for item in body["results"]}
    assert set(by_instance) == set(REGIONS)
    assert by_instance["eu-west"]["status"] == by_instance["us-east"]["status"] == "SUCCESSFUL"
    assert by_instance["ap-south"]["status"] == "FAILED" and by_instance["ap-south"]["outcome"] == "failure"
    assert started(sims) == {name: 1 for name in REGIONS}
    time.sleep(0.5)
    assert len(receiver.received) == 1  # one callback for the whole fan-out
    assert wait_done(fleet_node, auth, response.json()["id"])["state"] == "DONE"


def test_a_selector_matches_labels(fleet_node, sims, receiver, auth):
    post(fleet_node, auth, selector={"region": "eu-west", "env": "prod"}, callbackUrl=receiver.url())
    [callback] = receiver.wait_for(1)
    assert callback.json()["outcome"] == "success" and [r["instance"] for r in callback.json()["results"]] == [
        "eu-west"]
    assert started(sims) == {"eu-west": 1, "us-east": 0, "ap-south": 0}


def test_a_storm_over_three_instances_is_three_backups(tmp_path, fleet_env, make_settings, auth):
    with simulators(backup_seconds=6.0) as sims:
        path = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
        node = InProcessNode(make_settings(sddc_url="", sddc_managers_file=str(path))).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda n: post(node, auth, target=REGIONS[n % 3]).status_code, range(300)))
            assert answers == [202] * 300
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and node.store.accepted_triggers(1):
                time.sleep(0.1)
            time.sleep(0.5)
            assert started(sims) == {name: 1 for name in REGIONS}
        finally:
            node.stop()


def test_an_unreachable_instance_does_not_delay_the_others(tmp_path, sims, make_settings, receiver, auth):
    with blackhole() as dead_url:
        urls = {**{name: sim.url for name, sim in sims.items()}, "dead": dead_url}
        path = write_fleet_file(tmp_path / "fleet.yaml", urls)
        node = InProcessNode(make_settings(sddc_url="", sddc_managers_file=str(path), sddc_read_timeout=30,
                                           sddc_connect_timeout=30)).start()
        try:
            dead = post(node, auth, target="dead", callbackUrl=receiver.url("/dead")).json()["id"]
            time.sleep(0.3)  # the dead instance's submit is out and hanging
            healthy = [post(node, auth, target=name, callbackUrl=receiver.url(f"/{name}")).json()["id"]
                       for name in REGIONS]
            callbacks = receiver.wait_for(3, timeout=15)
            assert sorted(c.path for c in callbacks) == sorted(f"/{name}" for name in REGIONS)
            assert all(c.json()["status"] == "SUCCESSFUL" for c in callbacks)
            # ... while the unreachable instance's backup has not even been submitted yet.
            view = requests.get(f"{node.url}/v1/triggers/{dead}", headers=auth, timeout=10).json()
            assert view["state"] == "ATTACHED" and view["backup"]["status"] == "SUBMITTING"
            assert len(healthy) == 3
        finally:
            node.stop()


@pytest.mark.skipif(find_binary() is None, reason="prometheus-alertmanager is not installed (CI installs it)")
def test_real_alertmanager_routes_by_the_vcf_instance_label(tmp_path, sims, make_settings, receiver):
    path = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
    settings = make_settings(sddc_url="", sddc_managers_file=str(path), alertmanager_token="am-fleet-token-0123",
                             alertmanager_cooldown="1h", alertmanager_callback_url=receiver.url("/am"))
    node = InProcessNode(settings).start()
    hook = webhook_config(node.url + "/hooks/alertmanager", token="am-fleet-token-0123")
    am = AlertmanagerProcess(tmp_path / "am", am_config(hook, group_by=["alertname", "vcf_instance"],
                                                        group_wait="1s", group_interval="2s",
                                                        repeat_interval="1h")).start()
    try:
        am.post_alerts([alert("VcfHostDisconnected", labels={"vcf_instance": instance, "object": f"host-{i}"})
                        for instance in ("eu-west", "us-east") for i in range(5)]
                       + [alert("VcfNoInstanceLabel", labels={"object": "x"})])
        callbacks = receiver.wait_for(2, timeout=30)
        assert all(c.json()["status"] == "SUCCESSFUL" for c in callbacks)
        assert started(sims) == {"eu-west": 1, "us-east": 1, "ap-south": 0}
        found = node.store.list_triggers(source="alertmanager", state=None, since=None, limit=100)
        assert sorted(t.instance for t in found if t.state.value == "DONE") == ["eu-west", "us-east"]
        # The group without the label is refused, with the reason in the audit trail (not dropped).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(t.state.value == "SKIPPED" for t in found):
            time.sleep(0.2)
            found = node.store.list_triggers(source="alertmanager", state=None, since=None, limit=100)
        [refused] = [t for t in found if t.state.value == "SKIPPED"]
        assert "vcf_instance" in (refused.note or "") and "Refused" in (refused.note or "")
    finally:
        am.stop()
        node.stop()


@pytest.fixture
def slack_fleet_node(tmp_path, sims, make_settings, receiver) -> Iterator[InProcessNode]:
    path = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
    node = InProcessNode(make_settings(sddc_url="", sddc_managers_file=str(path), slack_signing_secret=SLACK_SECRET,
                                       slack_response_hosts=[receiver.host], slack_admins=["UADMIN"])).start()
    yield node
    node.stop()


def test_slack_names_an_instance_and_all_is_for_admins(slack_fleet_node, sims, receiver):
    answer = command(slack_fleet_node, receiver, "us-east before the upgrade", response_path="/slack/one")
    assert answer.status_code == 200 and "trg_" in answer.json()["text"]
    refused = command(slack_fleet_node, receiver, "all everything please", user="U100")
    assert "admins" in refused.json()["text"] and "eu-west" in refused.json()["text"]
    everything = command(slack_fleet_node, receiver, "all quarterly", user="UADMIN", response_path="/slack/all")
    assert "trg_" in everything.json()["text"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(r.path == "/slack/all" and "instances" in r.body.decode()
                                                  for r in receiver.received):
        time.sleep(0.1)
    [summary] = [r for r in receiver.received if r.path == "/slack/all" and "instances" in r.body.decode()]
    assert "Backup of 3 instances: success" in summary.json()["text"]
    assert all(f"`{name}`" in summary.json()["blocks"][1]["text"]["text"] for name in REGIONS)
    status = command(slack_fleet_node, receiver, "status")
    text = status.json()["text"]
    assert all(f"`{name}`" in text for name in REGIONS) and "SUCCESSFUL" in text
    assert sims["us-east"].state.backups_started >= 1


def test_instances_lists_each_instance_with_its_latest_backup(fleet_node, sims, receiver, auth):
    post(fleet_node, auth, target="eu-west", callbackUrl=receiver.url())
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while True:
        items = requests.get(fleet_node.url + "/v1/instances", headers=auth, timeout=10).json()["items"]
        by_name = {item["name"]: item for item in items}
        if by_name["eu-west"].get("lastSuccessful") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [item["name"] for item in items] == list(REGIONS)
    assert by_name["eu-west"]["lastSuccessful"]["status"] == "SUCCESSFUL"
    assert by_name["eu-west"]["labels"] == {"region": "eu-west", "env": "prod"}
    assert "lastBackup" not in by_name["us-east"]
    assert requests.get(fleet_node.url + "/v1/instances", timeout=10).status_code == 401


def test_the_terraform_hook_takes_a_target(fleet_node, sims, receiver, auth):
    response = requests.post(fleet_node.url + "/hooks/terraform", headers=auth, timeout=10,
                             json={"target": "ap-south", "callbackUrl": receiver.url()})
    assert response.status_code == 202, response.text
    receiver.wait_for(1)
    assert started(sims) == {"eu-west": 0, "us-east": 0, "ap-south": 1}
    unknown = requests.post(fleet_node.url + "/hooks/terraform", headers=auth, timeout=10, json={"target": "x"})
    assert unknown.status_code == 400 and "ap-south" in unknown.json()["message"]


def test_readyz_reports_each_instance_and_stays_ready_with_one_unreachable(tmp_path, sims, make_settings):
    with blackhole() as dead_url:
        closed = f"http://127.0.0.1:{free_port()}"
        urls = {**{name: sim.url for name, sim in sims.items()}, "closed": closed}
        path = write_fleet_file(tmp_path / "fleet.yaml", urls)
        node = InProcessNode(make_settings(sddc_url="", sddc_managers_file=str(path))).start()
        try:
            deadline = time.monotonic() + 15
            while True:
                answer = requests.get(node.url + "/readyz", timeout=10)
                instances = answer.json().get("instances", {})
                if (answer.status_code == 200 and "not checked" not in "".join(instances.values())) or (
                        time.monotonic() > deadline):
                    break
                time.sleep(0.1)
            assert answer.status_code == 200, answer.json()
            assert all(instances[name].startswith("reachable") for name in REGIONS)
            assert instances["closed"].startswith("unreachable")
            assert dead_url  # the blackhole accepts connections: only a closed port is unreachable here
        finally:
            node.stop()


def test_metrics_carry_the_instance(fleet_node, sims, receiver, auth):
    post(fleet_node, auth, target="ap-south", callbackUrl=receiver.url())
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while True:
        text = requests.get(fleet_node.url + "/metrics", timeout=10).text
        if 'instance="ap-south"' in text or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert 'vcfbackup_backups_total{instance="ap-south",result="SUCCESSFUL"}' in text


def test_the_audit_trail_filters_by_instance(fleet_node, sims, receiver, auth):
    mine = post(fleet_node, auth, target="eu-west").json()["id"]
    post(fleet_node, auth, target="us-east")
    page = requests.get(fleet_node.url + "/v1/triggers", headers=auth, params={"instance": "eu-west"},
                        timeout=10).json()
    assert [item["id"] for item in page["items"]] == [mine]
    assert page["items"][0]["trigger"]["instance"] == "eu-west"


def test_the_trigger_command_takes_a_target_and_a_selector(fleet_node, sims):
    env = {"VCFBACKUP_TRIGGER_URL": fleet_node.url, "VCFBACKUP_TRIGGER_TOKEN": API_TOKEN}
    one = run("trigger", "--wait", "--target", "ap-south", "--reason", "cli", env=env)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["status"] == "SUCCESSFUL"
    assert started(sims) == {"eu-west": 0, "us-east": 0, "ap-south": 1}
    sims["us-east"].state.update_config(outcome="FAILED")
    fan = run("trigger", "--wait", "--selector", "env=prod", env=env)
    assert fan.returncode == 1 and "fan-out partial" in fan.stderr
    assert sorted(r["instance"] for r in json.loads(fan.stdout)["results"]) == sorted(REGIONS)
    unknown = run("trigger", "--target", "mars", env=env)
    assert unknown.returncode == 3 and "eu-west" in unknown.stderr


def test_check_logs_in_to_every_instance_and_reports_each(tmp_path, sims, fleet_env):
    path = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
    sims["us-east"].state.update_config(configured=False)
    result = run("check", env={"VCFBACKUP_SDDC_MANAGERS_FILE": str(path), PASSWORD_ENV: "VMware123!VMware123!",
                               "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert result.returncode == 1
    assert "Instance eu-west: logged in" in result.stdout and "Instance ap-south: logged in" in result.stdout
    assert "PROBLEM: Instance us-east" in result.stdout and "isConfigured=false" in result.stdout
    assert "VMware123!" not in result.stdout
