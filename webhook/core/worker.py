"""The worker loop: attach → submit/poll → sweep → prune, while callbacks go out on their own threads.

A crash may happen between any two lines. Every step is safe to repeat, and the store's leases are
the only lock, so any number of workers (threads, processes, replicas) behave like one. The steps:

- ``AttachStep`` (attach_step.py): waiting triggers ride on the running backup or open one;
- ``BackupStep`` (backup_step.py): submit to SDDC Manager (never twice), poll the task to its end;
- ``DeliveryStep``/``DeliveryLoop`` (delivery_step.py): callbacks, retried per ``DeliveryPolicy``.

A cycle that fails is retried with back-off; after ``unhealthy_after`` failures in a row the worker
reports itself unhealthy in the store (``/readyz`` shows the reason) until a cycle succeeds again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from .attach_step import AttachStep
from .backup_step import BackupStep
from .completion import Completer, reference_token
from .delivery_loop import DeliveryLoop
from .delivery_policy import DeliveryPolicy
from .delivery_step import DeliveryStep
from .fanout import FanoutStep
from .metrics import Metrics, NullMetrics
from .ports import Clock, Notifier, SddcManager, Store
from .worker_config import WorkerConfig

__all__ = ["Worker", "WorkerConfig"]

log = logging.getLogger("webhook.worker")


class Worker:
    def __init__(
        self,
        store: Store,
        sddc: SddcManager | Mapping[str, SddcManager],
        notifier: Notifier,
        clock: Clock,
        config: WorkerConfig | None = None,
        delivery_policy: DeliveryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics: Metrics = metrics or NullMetrics()
        self.store = store
        self.sddc = sddc
        self.clock = clock
        self.config = config or WorkerConfig()
        self.policy = delivery_policy or DeliveryPolicy()
        completer = Completer(store, clock, self.policy)
        self.attaching = AttachStep(store, clock, self.config, self.policy, completer)
        self.backups = BackupStep(store, sddc, clock, self.config, self.policy, self.metrics, completer)
        self.deliveries = DeliveryStep(store, notifier, clock, self.config, self.policy, self.metrics)
        self.fanouts = FanoutStep(store, clock, self.policy, self.config.batch)
        self._last_prune: datetime | None = None
        self._last_beat: datetime | None = None
        self._fault: str | None = None  # the reason last reported to the store, if unhealthy
        self._senders_running = False

    @property
    def owner(self) -> str:
        return self.config.worker_id

    def run_once(self) -> bool:
        """One pass over every kind of due work; True if a step left due work it had no room for.

        A pass that did some work but left none is not a reason to go again at once: under a steady
        stream of triggers that would spin the loop (a pass per handful of triggers, each paying
        every step's queries) and take the CPU the request path needs. New work rings the doorbell.
        Under ``run_forever`` callbacks go out on the delivery threads instead of in the pass.
        """
        self._heartbeat()
        more = self.attaching.attach()
        backups_more, ended = self.backups.advance()
        if ended:
            self.attaching.riding = False
        more = backups_more or more
        more = self.attaching.complete_stranded() or more
        more = self.fanouts.finish_ready() or more
        if not self._senders_running:
            more = self.deliver() or more
        self.prune_history()
        self._probe_sddc()
        return more

    def deliver(self) -> bool:
        """Send the callbacks that are due on this thread; True if more are due than one pass takes."""
        return self.deliveries.run()

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Loop until ``stop``; sleep until woken by new work or the next due time."""
        wake = wake or threading.Event()
        ended = threading.Event()  # an instance's job ended a backup: attach and finish fan-outs at once

        def backup_ended() -> None:
            ended.set()
            wake.set()

        self.backups.notify = backup_ended
        sender = DeliveryLoop(self.deliveries)
        senders_stop = threading.Event()  # set when this loop ends, however it ends
        senders = threading.Thread(target=sender.run_forever, args=(senders_stop,), name="deliveries", daemon=True)
        senders.start()
        self._senders_running = True
        failures = 0
        try:
            while not stop.is_set():
                try:
                    ended.clear()
                    busy = self.run_once()
                    failures = 0
                    self._report_health(None)
                except Exception as exc:  # one bad cycle must not kill the loop; state is in the store
                    # Whatever failed is probably due again at once: back off, or the loop spins.
                    failures += 1
                    delay = self._error_backoff(failures)
                    token = reference_token()
                    log.exception("worker cycle failed", extra={
                        "event": "worker.cycle_failed", "failures": failures, "retry_in": delay,
                        "referenceToken": token})
                    if failures >= self.config.unhealthy_after:
                        self._report_health(f"{failures} worker cycles failed in a row, the last with "
                                            f"{type(exc).__name__} (referenceToken {token})")
                    stop.wait(delay)  # not ``wake``: new triggers must not cut the back-off short
                    continue
                sender.wake.set()  # the pass may have owed new callbacks
                if busy or stop.is_set():
                    continue
                riding = self.attaching.riding
                gather = self.config.ride_gather_seconds if riding else self.config.gather_seconds
                # No gathering after a backup ended: its fan-out parent (or the triggers waiting for the
                # freed slot) is due now, and nothing is gained by letting more land first.
                if wake.wait(self._idle_seconds()) and gather and not ended.is_set():
                    stop.wait(gather)
                wake.clear()
        finally:
            senders_stop.set()
            sender.wake.set()
            senders.join(self.config.attempt_deadline + 5)
            self._senders_running = False
            self.backups.close()
            try:
                self.store.release_leases(self.owner)
            except Exception:  # the leases lapse by themselves; stopping must not fail for it
                log.warning("leases not released", extra={"event": "worker.release_failed"})

    def _heartbeat(self) -> None:
        now = self.clock.now()
        if self._last_beat is None or (now - self._last_beat).total_seconds() >= self.config.heartbeat_every:
            self.store.heartbeat(self.owner, now)
            self._last_beat = now

    def _report_health(self, fault: str | None) -> None:
        """Tell the store (and so ``/readyz``) whether this worker's cycles fail; only on a change."""
        if fault == self._fault:
            return
        try:
            self.store.report_fault(self.owner, self.clock.now(), fault)
            self._fault = fault
        except Exception:  # the store itself may be what fails: /readyz sees that on its own
            log.warning("worker health not recorded", extra={"event": "worker.health_unrecorded"})

    def _probe_sddc(self) -> None:
        if not self.config.sddc_probe_every:
            return
        for sddc in self.backups.sddcs.values():  # every instance of the fleet
            probe = getattr(sddc, "probe", None)
            if probe is not None:
                probe(self.config.sddc_probe_every)

    def prune_history(self) -> None:
        """Drop finished history past the retention, at most every ``prune_every`` seconds."""
        now = self.clock.now()
        if self.config.retention is None or (
                self._last_prune and (now - self._last_prune).total_seconds() < self.config.prune_every):
            return
        self._last_prune = now
        removed = self.store.prune(now - timedelta(seconds=self.config.retention))
        if any(removed.values()):
            log.info("history pruned", extra={"event": "store.pruned", **removed})

    def _error_backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed cycles: 1, 2, 4, ... up to the max."""
        initial, ceiling = self.config.error_backoff_initial, self.config.error_backoff_max
        return min(ceiling, initial * 2.0 ** min(failures - 1, 32))

    def _idle_seconds(self) -> float:
        # Asked before the store: a job that ends after ``next_due`` skipped its leased backup must
        # still cap the wait (only this loop starts jobs, so none starts in between).
        in_flight = self.backups.in_flight
        now = self.clock.now()
        try:
            due = self.store.next_due(now)  # the backups of the instances' jobs in flight are not due
        except Exception:
            return self.config.idle_wait
        wait = self.config.idle_wait if due is None else max(0.01, (due - now).total_seconds())
        if in_flight:
            # A job that polled a backup still running does not ring (only one that ended a backup
            # does): look for the next poll it scheduled 20 times a second.
            wait = min(wait, 0.05)
        return min(self.config.idle_wait, wait)
