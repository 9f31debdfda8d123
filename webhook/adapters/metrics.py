"""Prometheus metrics (prometheus-client), correct under several gunicorn workers.

``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any process imports
prometheus_client; every process then writes its samples there and ``/metrics`` aggregates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from ..core.status import DEFAULT_INSTANCE, HealthSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

TRIGGERS = Counter("vcfbackup_triggers_total", "Triggers received, by source and outcome",
                   ["source", "outcome", "reason"])
SUBMIT_DELAY = Histogram("vcfbackup_trigger_to_submit_seconds",
                         "Time from an accepted trigger to the POST /v1/backups/tasks serving it",
                         ["instance"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BACKUPS = Counter("vcfbackup_backups_total", "Backups that ended, by result", ["result", "instance"])
BACKUP_DURATION = Histogram("vcfbackup_backup_duration_seconds", "Duration of backups that ended",
                            ["instance"], buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400))
DELIVERIES = Counter("vcfbackup_delivery_attempts_total", "Callback delivery attempts, by kind and outcome",
                     ["kind", "outcome"])
DELIVERY_ATTEMPTS = Histogram("vcfbackup_delivery_attempts_per_callback",
                              "Attempts a callback took once it was delivered or given up",
                              buckets=(1, 2, 3, 5, 8, 13, 21, 34))
STORE_ERRORS = Counter("vcfbackup_store_errors_total", "Store operations that failed")
AUTH_REFUSED = Counter("vcfbackup_auth_refused_total",
                       "Requests refused for a missing or wrong credential, by source (endpoint group, or ui)",
                       ["source"])

# Series the alert rules use start at 0 in every process: increase() never sees the first
# failure after a restart as the series' first sample (which it would count as no increase).
for _result in ("SUCCESSFUL", "FAILED", "TIMED_OUT", "CANCELLED", "SUBMIT_FAILED"):
    BACKUPS.labels(_result, DEFAULT_INSTANCE)
for _kind in ("webhook", "slack", "tfc_run_task"):
    for _outcome in ("delivered", "retry", "gave_up"):
        DELIVERIES.labels(_kind, _outcome)


class PrometheusMetrics:
    def __init__(self) -> None:
        self._triggers: dict[tuple[str, str, str], Any] = {}  # labelled children, looked up once

    def trigger(self, source: str, outcome: str, reason: str = "") -> None:
        key = (source, outcome, reason)
        child = self._triggers.get(key)
        if child is None:
            child = self._triggers.setdefault(key, TRIGGERS.labels(source, outcome, reason))
        child.inc()

    def submit_delay(self, seconds: float, instance: str = "default") -> None:
        SUBMIT_DELAY.labels(instance).observe(max(0.0, seconds))

    def backup_ended(self, state: str, duration_seconds: float | None, instance: str = "default") -> None:
        BACKUPS.labels(state, instance).inc()
        if duration_seconds is not None:
            BACKUP_DURATION.labels(instance).observe(max(0.0, duration_seconds))

    def delivery(self, kind: str, outcome: str, attempts: int) -> None:
        DELIVERIES.labels(kind, outcome).inc()
        if outcome != "retry":
            DELIVERY_ATTEMPTS.observe(attempts)

    def store_error(self) -> None:
        STORE_ERRORS.inc()

    def auth_refused(self, source: str) -> None:
        AUTH_REFUSED.labels(source).inc()


class StatusCollector(Collector):
    """Gauges read from the store at scrape time, so any web process tells the truth about the node.

    ``snapshot`` is ``core.status.StatusService.snapshot``; if it fails, only ``vcfbackup_store_up 0``.
    """

    def __init__(self, snapshot: Callable[[], HealthSnapshot], now: Callable[[], datetime]) -> None:
        self.snapshot = snapshot
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store_up = GaugeMetricFamily("vcfbackup_store_up", "1 if the store answered this scrape, else 0")
        age = GaugeMetricFamily("vcfbackup_worker_heartbeat_age_seconds",
                                "Seconds since the freshest worker loop heartbeat (-1: none)")
        try:
            snap = self.snapshot()
        except Exception:
            store_up.add_metric([], 0.0)
            age.add_metric([], -1.0)
            yield store_up
            yield age
            return
        store_up.add_metric([], 1.0)
        yield store_up
        now = self.now()
        age.add_metric([], (now - snap.last_heartbeat).total_seconds() if snap.last_heartbeat else -1.0)
        yield age
        beat = GaugeMetricFamily("vcfbackup_worker_heartbeat_timestamp_seconds",
                                 "Unix time of the freshest worker loop heartbeat (absent: none yet)")
        if snap.last_heartbeat:
            beat.add_metric([], snap.last_heartbeat.timestamp())
        yield beat
        up = GaugeMetricFamily("vcfbackup_sddc_manager_up",
                               "1 if SDDC Manager answered the worker's last call (and accepted its credentials)",
                               labels=["sddc_manager"])
        checked = GaugeMetricFamily("vcfbackup_sddc_manager_last_check_timestamp_seconds",
                                    "Unix time of the worker's last call to SDDC Manager", labels=["sddc_manager"])
        for contact in snap.contacts:
            up.add_metric([contact.instance], 1.0 if contact.reachable else 0.0)
            checked.add_metric([contact.instance], contact.checked_at.timestamp())
        yield up
        yield checked
        ended = GaugeMetricFamily("vcfbackup_backup_last_end_timestamp_seconds",
                                  "Unix time the latest backup with this result ended",
                                  labels=["sddc_manager", "result"])
        for (instance, result), at in sorted(snap.last_end.items()):
            ended.add_metric([instance, result], at.timestamp())
        yield ended
        success = GaugeMetricFamily("vcfbackup_last_successful_backup_timestamp_seconds",
                                    "Unix time the latest SUCCESSFUL backup ended (0: none recorded)",
                                    labels=["sddc_manager"])
        instances = {i for i, _ in snap.last_end} | {c.instance for c in snap.contacts} | {DEFAULT_INSTANCE}
        for instance in sorted(instances):
            last = snap.last_successful(instance)
            success.add_metric([instance], last.timestamp() if last else 0.0)
        yield success
        queue = GaugeMetricFamily("vcfbackup_queue_depth",
                                  "Work waiting: accepted triggers not yet on a backup, callbacks not yet delivered",
                                  labels=["queue"])
        queue.add_metric(["triggers"], float(snap.accepted_triggers))
        queue.add_metric(["deliveries"], float(snap.pending_deliveries))
        yield queue


def exposition(multiprocess_dir: str | None, extra: Collector) -> Callable[[], bytes]:
    """A function that renders /metrics for this process (or all processes of the node)."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(extra)
    return lambda: generate_latest(registry)


class _Default(Collector):
    def collect(self) -> Iterator:  # type: ignore[type-arg]
        yield from REGISTRY.collect()


def mark_process_dead(pid: int, multiprocess_dir: str) -> None:
    multiprocess.mark_process_dead(pid, multiprocess_dir)
