"""The run task's floor: the durable floor plus only what issue 5 makes every run task request owe.

The web process checks ``X-TFC-Task-Signature`` (HMAC-SHA512 of the raw body, constant time), reads
the payload's fields, checks the callback host against ``VCFBACKUP_TFC_HOSTS``, inserts one row (the
callback URL and access token with it) through the durable floor's group commit, and answers 200.
A sender process on the same core (as ``serve`` runs its worker loop, but at nice 0 unless
``BENCH_SENDER_NICE`` says otherwise) takes the new
rows in batches, sends each the ``running`` PATCH HCP Terraform is owed (JSON:API, bearer token, one
kept-alive connection per host), and marks the batch sent in one commit, so no row is sent twice.

No logging, request ids, metrics, idempotency, deadline row, backup, attempt record or retry: the
bench runs it beside the run task's node to show what no implementation of that protocol on this
stack, with its sender on the web's core, can go below. Run as ``python -m bench.run_task_floor``
with the node's ``VCFBACKUP_*`` variables (it starts its sender itself).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request

from webhook.adapters.store.engine import make_engine, writer_queue
from webhook.settings import Settings

from bench.bare_app import BareGunicorn, app_with_health
from bench.floor_app import durable_inserts

_COLUMNS = ("id", "source", "caller", "spec", "spec_key", "reason", "received_at", "state", "callback")
BATCH = 200
SENDER_NICE = "BENCH_SENDER_NICE"  # the sender's nice value (0; the bench also runs it at serve's 10)
IDLE_SECONDS = 0.005


def create_run_task_floor_app(settings: Settings) -> Flask:
    key = settings.tfc_hmac_key.get_secret_value().encode() if settings.tfc_hmac_key else b""
    hosts = set(settings.tfc_hosts)
    group = durable_inserts(settings, _COLUMNS)
    app = app_with_health("run-task-floor")

    @app.post("/<path:_anything>")
    def accept(_anything: str) -> Any:
        body = request.get_data()
        expected = hmac.new(key, body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-TFC-Task-Signature", "")):
            return {"errorCode": "UNAUTHORIZED"}, 401
        run = json.loads(body)
        url, token = run["task_result_callback_url"], run["access_token"]
        if urlsplit(url).netloc not in hosts:
            return {"errorCode": "CALLBACK_REFUSED"}, 400
        trigger_id = f"trg_{uuid.uuid4().hex}"
        group.add((trigger_id, "tfc_run_task", f"tfc:{run['organization_name']}", "{}", "floor",
                   run["run_id"], time.time(), "ACCEPTED", json.dumps({"url": url, "token": token})))
        return app.response_class(b"", 200)

    return app


def send_running(settings: Settings) -> None:
    """The sender: each stored row gets one ``running`` PATCH, then its batch is marked sent."""
    os.nice(int(os.environ.get(SENDER_NICE, "0")))
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    queue = writer_queue(engine)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    peers: dict[str, http.client.HTTPConnection] = {}
    while True:
        cursor.execute("SELECT id, callback FROM triggers WHERE state = 'ACCEPTED' ORDER BY received_at LIMIT ?",
                       (BATCH,))
        rows = cursor.fetchall()
        connection.commit()
        if not rows:
            time.sleep(IDLE_SECONDS)
            continue
        for trigger_id, callback in rows:
            target = json.loads(callback)
            parts = urlsplit(target["url"])
            peer = peers.get(parts.netloc) or peers.setdefault(
                parts.netloc, http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=10))
            body = json.dumps({"data": {"type": "task-results", "attributes": {
                "status": "running", "message": f"Backup started for {trigger_id}."}}})
            peer.request("PATCH", parts.path, body, {"Content-Type": "application/vnd.api+json",
                                                     "Authorization": f"Bearer {target['token']}"})
            peer.getresponse().read()
        ids = [trigger_id for trigger_id, _ in rows]
        with queue.hold() if queue else contextlib.nullcontext():
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(f"UPDATE triggers SET state = 'ATTACHED' WHERE id IN ({', '.join('?' * len(ids))})", ids)
            cursor.execute("COMMIT")


class RunTaskFloorGunicorn(BareGunicorn):
    """Same ``load_config`` as ``serve``, the bare app and the durable floor; only the app differs."""

    def load(self) -> Any:
        return create_run_task_floor_app(self.settings)


def main() -> None:
    settings = Settings(metrics_dir=None)
    if sys.argv[1:] == ["--sender"]:
        # At serve's nice 10 this sender falls behind a saturated web (the bench shows it beside this one):
        # a floor that leaves the work undone is no floor, so by default it competes as an equal.
        send_running(settings)
        return
    # Made before the sender starts, so that it never reads a table that is not there yet.
    create_run_task_floor_app(settings)
    sender = subprocess.Popen([sys.executable, "-m", "bench.run_task_floor", "--sender"])
    try:
        RunTaskFloorGunicorn(settings).run()
    finally:
        sender.terminate()


if __name__ == "__main__":
    main()
