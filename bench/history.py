"""Section 5 (cost growth with history) and section 4b (store size, before and after pruning).

History is written straight into the tables (SQLAlchemy executemany, rows shaped by the store's own
``rows`` module): DONE triggers with a callback, one DELIVERED result delivery each, one SUCCESSFUL
backup per 50 triggers, spread over the last 60 days (inside the default 90-day retention, so the
node's own pruning leaves them alone). Then, per size: the worker's cycle time (``Worker.run_once()``
with nothing due, and the first cycle, which includes the hourly prune pass) and the ack latency of
a ``serve`` node on that store.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webhook.adapters.store import SqlStore, rows
from webhook.adapters.store.schema import backups, deliveries, triggers
from webhook.app import build_worker
from webhook.core.models import Resource
from webhook.core.results import result_document
from webhook.core.triggers import (
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    DeliveryState,
    Trigger,
    TriggerState,
    new_id,
)
from webhook.settings import Settings
from webhook.simulator import SimulatorConfig, SimulatorServer
from webhook.sources.generic import default_spec

from . import payloads, servers
from .load import percentile
from .throughput import Context, load_endpoint, warm

SPAN = timedelta(days=60)
PER_BACKUP = 50
CHUNK = 5000


def _templates(now: datetime) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    trigger = Trigger(source="generic", caller="ci", spec=default_spec(), reason="pre-change backup (history)",
                      callback=CallbackTarget(url="https://hooks.example.com/vcf-backup"),
                      context={"workspace": "vcf-mgmt", "runId": "run-history"}, received_at=now,
                      state=TriggerState.DONE, completed_at=now)
    backup = Backup(spec=trigger.spec, state=BackupState.SUCCESSFUL, sddc_task_id=str(uuid.uuid4()),
                    name="SDDC Manager Backup", sddc_status="Successful", created_at=now, submit_started_at=now,
                    submitted_at=now, completed_at=now, submit_attempts=1,
                    resources=[Resource(resourceId=str(uuid.uuid4()), type="SDDC_MANAGER", name="sddc-manager")])
    trigger.backup_id = backup.id
    delivery = Delivery(trigger_id=trigger.id, target=trigger.callback, body=result_document(trigger, backup),
                        state=DeliveryState.DELIVERED, event=DeliveryEvent.COMPLETED, created_at=now,
                        next_attempt_at=now, give_up_at=now, delivered_at=now,
                        attempts=[DeliveryAttempt(at=now, status_code=200, duration_ms=12)])
    return rows.trigger_row(trigger), rows.backup_row(backup), rows.delivery_row(delivery)


def fill_history(store: SqlStore, count: int, now: datetime) -> None:
    trigger_t, backup_t, delivery_t = _templates(now)
    step = SPAN.total_seconds() / max(count, 1)
    start = now.timestamp() - SPAN.total_seconds()
    with store.engine.begin() as conn:
        for first in range(0, count, CHUNK):
            t_rows, b_rows, d_rows = [], [], []
            for k in range(first, min(count, first + CHUNK)):
                at = start + k * step
                if k % PER_BACKUP == 0:
                    backup_id = new_id("bkp")
                    b_rows.append({**backup_t, "id": backup_id, "sddc_task_id": str(uuid.uuid4()), "created_at": at,
                                   "submit_started_at": at, "submitted_at": at + 1, "completed_at": at + 600})
                trigger_id = new_id("trg")
                t_rows.append({**trigger_t, "id": trigger_id, "received_at": at, "completed_at": at + 600,
                               "backup_id": backup_id})
                d_rows.append({**delivery_t, "id": new_id("dlv"), "trigger_id": trigger_id, "created_at": at + 600,
                               "next_attempt_at": None, "give_up_at": at + 600 + 6 * 3600,
                               "delivered_at": at + 600})
            conn.execute(backups.insert(), b_rows)
            conn.execute(triggers.insert(), t_rows)
            conn.execute(deliveries.insert(), d_rows)


def cycle_times(settings: Settings, store: SqlStore, cycles: int) -> dict[str, float]:
    """Milliseconds: the first ``run_once`` (with the prune pass), then idle cycles, and ``next_due``."""
    worker = build_worker(settings, store)
    began = time.perf_counter()
    worker.run_once()
    first = time.perf_counter() - began
    spent, due = [], []
    for _ in range(cycles):
        began = time.perf_counter()
        worker.run_once()
        spent.append(time.perf_counter() - began)
        began = time.perf_counter()
        store.next_due()
        due.append(time.perf_counter() - began)
    spent.sort()
    return {"first_cycle_ms": 1000 * first, "cycle_median_ms": 1000 * statistics.median(spent),
            "cycle_p99_ms": 1000 * percentile(spent, 99), "next_due_median_ms": 1000 * statistics.median(due)}


def file_sizes(database: Path) -> dict[str, float]:
    """Sizes in MB after a WAL checkpoint: the file, and the pages that hold live data."""
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
    wal = Path(f"{database}-wal")
    return {"file_mb": database.stat().st_size / 2**20, "wal_mb": wal.stat().st_size / 2**20 if wal.exists() else 0.0,
            "live_mb": (pages - free) * page / 2**20}


def run_growth(ctx: Context, sizes: tuple[int, ...], cycles: int, seconds: float) -> dict[str, Any]:
    sim = SimulatorServer(SimulatorConfig(backup_seconds=3600)).start()
    results: list[dict[str, Any]] = []
    store_size: dict[str, Any] = {}
    try:
        for count in sizes:
            database = ctx.work / f"history-{count}.db"
            url = f"sqlite:///{database}"
            settings = Settings(database_url=url, sddc_url=sim.url, sddc_username="admin@local",
                                sddc_password="VMware123!VMware123!", log_level="WARNING")
            store = SqlStore.from_url(url)
            now = datetime.now(UTC)
            began = time.perf_counter()
            fill_history(store, count, now)
            filled = time.perf_counter() - began
            cycles_ms = cycle_times(settings, store, cycles)
            env = servers.node_env(database, servers.free_port(), sim.url, ctx.receiver_host)
            with servers.serve_node(ctx.work, f"history-{count}", env) as node:
                scoped = replace(ctx, seconds=seconds)
                warm(scoped, node.url, payloads.GENERIC, f"history-{count}")
                ack = load_endpoint(scoped, node.url, payloads.GENERIC, f"history-{count}", min(ctx.conns))
            results.append({"history": count, "fill_seconds": filled, **cycles_ms, "ack_rps": ack.rps,
                            "ack_p50_ms": ack.p50_ms, "ack_p99_ms": ack.p99_ms, "ack_errors": ack.errors,
                            "conns": ack.conns})
            ctx.say(f"  history {count:>7}: cycle median {cycles_ms['cycle_median_ms']:.1f} ms (first "
                    f"{cycles_ms['first_cycle_ms']:.0f} ms), ack p99 {ack.p99_ms:.1f} ms at {ack.rps:.0f} req/s")
            if count == max(sizes):
                store_size = prune_sizes(store, database, count)
            store.engine.dispose()
    finally:
        sim.stop()
    return {"sizes": results, "store": store_size}


def prune_sizes(store: SqlStore, database: Path, count: int) -> dict[str, Any]:
    before = file_sizes(database)
    began = time.perf_counter()
    removed = store.prune(datetime.now(UTC))
    prune_seconds = time.perf_counter() - began
    after = file_sizes(database)
    with sqlite3.connect(database) as db:
        db.execute("VACUUM")
    vacuumed = file_sizes(database)
    result = {"history": count, "before": before, "removed": removed, "prune_seconds": prune_seconds,
              "after": after, "after_vacuum": vacuumed}
    return result
