"""The floor under the fleet bench's "trigger → last submit": only the HTTP a submit makes, nothing else.

``python -m bench.fleet_floor URL...`` (started by ``bench.fleet``, pinned to the node's core): logs in to
every simulator, says ``ready``, and on a line on stdin does what the worker's submit does over HTTP for
every instance at once — ``GET /v1/tasks`` (is a backup running?) then ``POST /v1/backups/tasks`` —
with ``requests``, one session and token per instance, on as many threads as the worker has. No store,
no trigger, no pydantic: what is left is the client's and the simulators' share. It prints the time it
started (``time.time()``); the bench reads the POSTs' arrival from the simulators, as for the node.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

USERNAME = "admin@local"
PASSWORD = "VMware123!VMware123!"
BACKUP = {"elements": [{"resourceType": "SDDC_MANAGER"}]}


def login(url: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(url + "/v1/tokens", json={"username": USERNAME, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    session.headers["Authorization"] = f"Bearer {answer.json()['accessToken']}"
    return session


def submit(url: str, session: requests.Session) -> None:
    running = session.get(url + "/v1/tasks", params={"taskType": "SDDCMANAGER_BACKUP", "pageSize": 100}, timeout=30)
    running.raise_for_status()
    running.json()
    answer = session.post(url + "/v1/backups/tasks", json=BACKUP, timeout=30)
    answer.raise_for_status()
    answer.json()


def main(argv: list[str]) -> int:
    threads, urls = int(argv[0]), argv[1:]
    sessions = {url: login(url) for url in urls}
    with ThreadPoolExecutor(threads) as pool:
        print("ready", flush=True)
        for line in sys.stdin:  # one round per line, until the bench closes stdin
            if not line.strip():
                continue
            started = time.time()
            list(pool.map(lambda url: submit(url, sessions[url]), urls))
            print(json.dumps({"started": started, "ended": time.time()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
