"""kill -9 of the whole service mid fan-out, and a restart: no instance backed up twice, every callback once."""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import API_TOKEN
from tests.support.fleet import PASSWORD_ENV, REGIONS, simulators, write_fleet_file
from tests.support.node import ServeProcess

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


@pytest.mark.parametrize("moment", ["backups running", "one submit answered late"])
def test_kill_9_mid_fan_out_then_restart(tmp_path, serve_env, receiver, moment):
    with simulators(backup_seconds=3) as sims:
        fleet = write_fleet_file(tmp_path / "fleet.yaml", {name: sim.url for name, sim in sims.items()})
        env = {**serve_env, "VCFBACKUP_SDDC_URL": "", "VCFBACKUP_SDDC_MANAGERS_FILE": str(fleet),
               PASSWORD_ENV: "VMware123!VMware123!"}
        if moment == "one submit answered late":  # started on SDDC Manager, its task id never stored
            sims["us-east"].state.add_delay("/v1/backups/tasks", seconds=5, method="POST", when="after")
        node = ServeProcess(env).start()
        try:
            fan = requests.post(node.url + "/v1/triggers", headers=AUTH, timeout=10,
                                json={"selector": {}, "callbackUrl": receiver.url("/fan"), "reason": "fleet"})
            assert fan.status_code == 202
            single = requests.post(node.url + "/v1/triggers", headers=AUTH, timeout=10,
                                   json={"target": "eu-west", "callbackUrl": receiver.url("/single")})
            assert single.status_code == 202
            wait_until(lambda: all(sim.state.backups_started == 1 for sim in sims.values()))
            node.kill()
        finally:
            node.kill()
        restarted = ServeProcess(env).start()
        try:
            receiver.wait_for(2, timeout=40)
            time.sleep(1.5)  # anything sent twice would arrive now
            paths = sorted(c.path for c in receiver.received)
            assert paths == ["/fan", "/single"], paths
            [fan_callback] = [c for c in receiver.received if c.path == "/fan"]
            body = fan_callback.json()
            assert body["trigger"]["id"] == fan.json()["id"] and body["outcome"] == "success"
            assert sorted(r["instance"] for r in body["results"]) == sorted(REGIONS)
            assert {name: sim.state.backups_started for name, sim in sims.items()} == {name: 1 for name in REGIONS}
        finally:
            restarted.kill()
