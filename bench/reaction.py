"""Section 3: reaction time, one trigger at a time so every trigger opens its own backup.

- accepted → submitted: the trigger's ``received_at`` (stored before the 2xx) to the simulator's
  ``creationTimestamp`` of the SDDC task (when its POST /v1/backups/tasks arrived). The node is idle
  between samples, so this measures how fast the doorbell wakes the worker.
- terminal → callback: the task's ``completionTimestamp`` to the first attempt of the COMPLETED
  delivery (``attempts[0].at``: when the callback left). Bounded by the poll interval, which this
  section sets to 0.25 s (VCFBACKUP_POLL_INTERVAL) so that 100 samples fit in under a minute; each
  backup lasts a random part of one poll interval, so the task ends at a random point between polls.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
from datetime import datetime
from typing import Any

import requests

from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .load import percentile
from .receiver import Receiver
from .throughput import Context

POLL_INTERVAL = 0.25
SHORTEST_BACKUP = 0.02


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_reaction(ctx: Context, samples: int) -> dict[str, Any]:
    sim = SimulatorServer(SimulatorConfig(backup_seconds=SHORTEST_BACKUP)).start()
    receiver = Receiver().start()
    database = ctx.work / "reaction.db"
    env = servers.node_env(database, servers.free_port(), sim.url, receiver.host,
                           VCFBACKUP_POLL_INTERVAL=f"{POLL_INTERVAL}s")
    ids: list[str] = []
    try:
        with servers.serve_node(ctx.work, "reaction", env) as node, requests.Session() as session:
            headers = {"Authorization": f"Bearer {payloads.API_TOKEN}"}
            deadline = time.monotonic() + samples * (2 * POLL_INTERVAL + 5)
            spread = random.Random(7)
            for i in range(samples):
                sim.state.update_config(backup_seconds=SHORTEST_BACKUP + spread.random() * POLL_INTERVAL)
                path = f"/react/{i}"
                answer = session.post(node.url + "/v1/triggers", headers=headers, timeout=10,
                                      json={"callbackUrl": receiver.base + path, "reason": f"reaction {i}"})
                answer.raise_for_status()
                ids.append(answer.json()["id"])
                while time.monotonic() < deadline and not any(a.path == path for a in receiver.snapshot()):
                    time.sleep(0.01)
                time.sleep(0.05)  # let the delivery's attempt be recorded before the next trigger
            tasks = {t["id"]: t for t in sim.state.task_views()}
            posts = sim.state.backups_started
    finally:
        receiver.stop()
        sim.stop()
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT t.id, t.received_at, b.sddc_task_id, d.attempts FROM triggers t "
            "JOIN backups b ON b.id = t.backup_id "
            "LEFT JOIN deliveries d ON d.trigger_id = t.id AND d.event = 'backup.completed'").fetchall()
    to_submit: list[float] = []
    to_callback: list[float] = []
    for trigger_id, received_at, task_id, attempts in rows:
        task = tasks.get(task_id or "")
        if trigger_id not in ids or task is None:
            continue
        to_submit.append(_epoch(task["creationTimestamp"]) - received_at)
        tried = json.loads(attempts) if attempts else []
        if tried and task.get("completionTimestamp"):
            to_callback.append(_epoch(tried[0]["at"]) - _epoch(task["completionTimestamp"]))
    to_submit.sort()
    to_callback.sort()
    result = {
        "samples": len(ids), "backups_started": posts, "poll_interval_s": POLL_INTERVAL,
        "backup_seconds": f"{SHORTEST_BACKUP}-{SHORTEST_BACKUP + POLL_INTERVAL}",
        "submit_median_ms": 1000 * statistics.median(to_submit) if to_submit else None,
        "submit_p99_ms": 1000 * percentile(to_submit, 99) if to_submit else None,
        "callback_median_ms": 1000 * statistics.median(to_callback) if to_callback else None,
        "callback_p99_ms": 1000 * percentile(to_callback, 99) if to_callback else None,
        "measured_submit": len(to_submit), "measured_callback": len(to_callback),
    }
    ctx.say(f"  reaction: {len(ids)} triggers, {posts} backups; accepted→POST median "
            f"{_ms(result['submit_median_ms'])} p99 {_ms(result['submit_p99_ms'])}; terminal→callback median "
            f"{_ms(result['callback_median_ms'])} p99 {_ms(result['callback_p99_ms'])}")
    return result


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
