"""The worker's knobs, in one frozen record every step reads (and nothing else imports the worker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .triggers import new_id


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str = field(default_factory=lambda: new_id("wrk"))
    lease_seconds: float = 60.0
    poll_initial: float = 2.0
    poll_max: float = 30.0
    backup_timeout: float = 3 * 3600.0
    submit_retry_delay: float = 10.0
    submit_max_attempts: int = 5
    adopt_clock_skew: float = 300.0
    task_not_found_grace: float = 60.0
    batch: int = 200
    idle_wait: float = 5.0
    retention: float | None = 90 * 86400.0
    prune_every: float = 3600.0
    # Stranded triggers only follow a crash or a race, so look for them now and then, not every pass:
    # the query reads every ATTACHED trigger, thousands while a storm rides on a long backup.
    sweep_every: float = 10.0
    heartbeat_every: float = 1.0
    # After a cycle fails unexpectedly, wait this long before the next one, doubling up to the max.
    error_backoff_initial: float = 1.0
    error_backoff_max: float = 30.0
    # This many failed cycles in a row and the worker reports itself unhealthy (/readyz answers 503).
    unhealthy_after: int = 3
    # After a wake-up, let a burst of triggers land so one cycle attaches them all.
    gather_seconds: float = 0.02
    # While a backup is in progress, new triggers only ride on it (no POST waits on them): gather
    # longer, so a storm costs a few passes a second instead of one per handful of triggers.
    ride_gather_seconds: float = 0.25
    # Callbacks sent are recorded together, one commit per this many or per this long (the first
    # waits at most that long). A crash can only resend what was sent in that window; a commit per
    # callback cost an fsync each, which set the pace of a storm's results.
    record_every: int = 20
    record_within: float = 0.1
    # Deliveries run on their own threads, apart from submit and poll: at most this many attempts at
    # once, and at most ``delivery_per_host`` to one host, so one slow receiver delays only its own.
    delivery_threads: int = 8
    delivery_per_host: int = 2
    # One claim (one write) takes up to ``delivery_queue_per_host`` due deliveries, and this worker
    # holds at most ``delivery_queue`` claimed at once; a claimed one may wait ``delivery_hold``
    # seconds for its host's turn before its lease must be renewed (see core.delivery_loop).
    delivery_queue: int = 64
    delivery_queue_per_host: int = 32
    delivery_hold: float = 10.0
    # The notifier's bound on one attempt (connect + send + whole answer). A delivery's lease is taken
    # or renewed just before each attempt for this plus ``lease_margin``: it cannot lapse mid-attempt.
    attempt_deadline: float = 15.0
    lease_margin: float = 15.0
    # With several SDDC Managers, at most this many instances are submitted to and polled at once
    # (each instance's work on its own thread, one job per instance at a time).
    instance_threads: int = 16
    # An idle worker asks SDDC Manager something harmless this often, so the status page and the
    # reachability gauge see an outage before the next backup does (None: never; see core.reachability).
    sddc_probe_every: float | None = None

    @property
    def delivery_lease(self) -> float:
        return self.attempt_deadline + self.lease_margin + self.record_within
