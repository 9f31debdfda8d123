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

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

TRIGGERS = Counter("vcfbackup_triggers_total", "Triggers received, by source and outcome",
                   ["source", "outcome", "reason"])
SUBMIT_DELAY = Histogram("vcfbackup_trigger_to_submit_seconds",
                         "Time from an accepted trigger to the POST /v1/backups/tasks serving it",
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
BACKUPS = Counter("vcfbackup_backups_total", "Backups that ended, by result", ["result"])
BACKUP_DURATION = Histogram("vcfbackup_backup_duration_seconds", "Duration of backups that ended",
                            buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400))
DELIVERIES = Counter("vcfbackup_delivery_attempts_total", "Callback delivery attempts, by kind and outcome",
                     ["kind", "outcome"])
DELIVERY_ATTEMPTS = Histogram("vcfbackup_delivery_attempts_per_callback",
                              "Attempts a callback took once it was delivered or given up",
                              buckets=(1, 2, 3, 5, 8, 13, 21, 34))
STORE_ERRORS = Counter("vcfbackup_store_errors_total", "Store operations that failed")


class PrometheusMetrics:
    def __init__(self) -> None:
        self._triggers: dict[tuple[str, str, str], Any] = {}  # labelled children, looked up once

    def trigger(self, source: str, outcome: str, reason: str = "") -> None:
        key = (source, outcome, reason)
        child = self._triggers.get(key)
        if child is None:
            child = self._triggers.setdefault(key, TRIGGERS.labels(source, outcome, reason))
        child.inc()

    def submit_delay(self, seconds: float) -> None:
        SUBMIT_DELAY.observe(max(0.0, seconds))

    def backup_ended(self, state: str, duration_seconds: float | None) -> None:
        BACKUPS.labels(state).inc()
        if duration_seconds is not None:
            BACKUP_DURATION.observe(max(0.0, duration_seconds))

    def delivery(self, kind: str, outcome: str, attempts: int) -> None:
        DELIVERIES.labels(kind, outcome).inc()
        if outcome != "retry":
            DELIVERY_ATTEMPTS.observe(attempts)

    def store_error(self) -> None:
        STORE_ERRORS.inc()


class HeartbeatCollector(Collector):
    """Worker heartbeat age, read from the store at scrape time (so any web process can tell)."""

    def __init__(self, last_heartbeat: Callable[[], datetime | None], now: Callable[[], datetime]) -> None:
        self.last_heartbeat = last_heartbeat
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("vcfbackup_worker_heartbeat_age_seconds",
                                  "Seconds since the freshest worker loop heartbeat (-1: none)")
        try:
            beat = self.last_heartbeat()
        except Exception:
            beat = None
        gauge.add_metric([], (self.now() - beat).total_seconds() if beat else -1.0)
        yield gauge


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
