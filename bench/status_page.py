"""Section 7: the status page on a big store: GET /ui/ (and its other views) beside GET /healthz.

The store is filled the way section 5 fills it (``history.fill_history``: DONE triggers with a
delivered callback, one SUCCESSFUL backup per 50, over 60 days), plus a FAILED backup and a callback
that gave up, so every part of the page has something to draw. One ``serve`` node answers all paths
in turn with the same connections and duration, so /healthz (the cheapest answer the node gives)
is the yardstick measured in the same run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from webhook.adapters.store import SqlStore, rows
from webhook.adapters.store.schema import backups, deliveries, triggers
from webhook.core.models import Error
from webhook.core.triggers import (
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Trigger,
    TriggerState,
)
from webhook.sources.generic import default_spec

from . import history, payloads, servers
from .load import LoadResult, Pool, run_load
from .throughput import Context

PATHS = ("/ui/", "/ui/triggers", "/ui/health", "/ui/triggers?caller=nobody", "/healthz")


def add_failures(store: SqlStore, now: datetime) -> str:
    """A FAILED backup with one trigger whose callback gave up; returns the backup id."""
    at = now - timedelta(hours=3)
    backup = Backup(spec=default_spec(), state=BackupState.FAILED, sddc_task_id="task-failed", created_at=at,
                    submitted_at=at, completed_at=at + timedelta(minutes=4),
                    errors=[Error(errorCode="SFTP_TRANSFER_FAILED", message="connection timed out",
                                  remediationMessage="Check the SFTP server.")])
    target = CallbackTarget(url="https://hooks.example.com/gone")
    trigger = Trigger(source="alertmanager", caller="am", spec=backup.spec, reason="disk alert", received_at=at,
                      state=TriggerState.DONE, backup_id=backup.id, completed_at=at, callback=target)
    delivery = Delivery(trigger_id=trigger.id, target=target, body={}, state=DeliveryState.GAVE_UP,
                        created_at=at, next_attempt_at=at, give_up_at=at, last_error="HTTP 503",
                        attempts=[DeliveryAttempt(at=at, status_code=503, duration_ms=9)] * 5)
    with store.engine.begin() as conn:
        conn.execute(backups.insert(), [rows.backup_row(backup)])
        conn.execute(triggers.insert(), [rows.trigger_row(trigger)])
        conn.execute(deliveries.insert(), [rows.delivery_row(delivery)])
    return backup.id


def get_pool(ctx: Context, path: str, tag: str) -> Pool:
    pool = Pool.write(ctx.work / f"pool-{tag}.txt", path, ("Authorization",),
                      [([f"Bearer {payloads.API_TOKEN}"], b"")])
    pool.method = "GET"
    return pool


def run_status_page(ctx: Context, count: int, conns: int, seconds: float) -> dict[str, Any]:
    database = ctx.work / f"ui-{count}.db"
    url = f"sqlite:///{database}"
    store = SqlStore.from_url(url)
    now = datetime.now(UTC)
    began = time.perf_counter()
    history.fill_history(store, count, now)
    failed = add_failures(store, now)
    filled = time.perf_counter() - began
    store.engine.dispose()
    env = servers.node_env(database, servers.free_port(), ctx.sim_url, ctx.receiver_host)
    results: list[dict[str, Any]] = []
    with servers.serve_node(ctx.work, f"ui-{count}", env) as node:
        auth = {"Authorization": f"Bearer {payloads.API_TOKEN}"}
        for path in (*PATHS, f"/ui/backups/{failed}"):  # every view answers before anything is timed
            answer = requests.get(node.url + path, headers=auth, timeout=30)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        for path in PATHS:
            tag = "ui-" + "".join(c if c.isalnum() else "-" for c in path)
            pool = get_pool(ctx, path, tag)
            if ctx.warmup > 0:
                run_load(node.url, pool, conns, ctx.warmup, ctx.work)
            result: LoadResult = run_load(node.url, pool, conns, seconds, ctx.work)
            pool.path.unlink(missing_ok=True)
            results.append({"path": path, **result.as_dict()})
            ctx.say(f"  GET {path:<28} p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                    f"{result.rps:6.0f} req/s  errors {result.errors}")
    return {"history": count, "conns": conns, "fill_seconds": filled, "rows": results}
