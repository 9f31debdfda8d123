"""The delivery threads: callbacks claimed a batch at a time, sent at most ``delivery_per_host`` at once per host.

A claim commit per attempt cost a write (an fsync with ``synchronous=FULL``) per callback, and a
claim of one per free thread let most of a storm's callbacks, all for one host, go again at once
(a second write each) to be claimed again a second later. Here one claim takes up to
``delivery_queue`` due deliveries, with a lease that also covers ``delivery_hold`` of waiting for
their host's turn; they wait on this node in per-host queues. Before each attempt the lease left
must still cover the attempt and its record (``delivery_lease``): one that waited longer than the
hold has its host's queue renewed first (one write), and what another worker holds by then is
dropped unsent. So without a crash no callback is sent twice, on any number of nodes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .delivery_step import DeliveryStep
from .triggers import Delivery

log = logging.getLogger("webhook.worker")

# A delivery whose host already has ``delivery_queue_per_host`` waiting is let go for this long.
HOST_BUSY_DELAY = 1.0


@dataclass
class _Held:
    delivery: Delivery
    until: datetime  # the end of this worker's lease on it


class DeliveryLoop:
    """Runs ``DeliveryStep.attempt`` on a pool of threads until stopped; ``wake`` says callbacks may be due."""

    def __init__(self, step: DeliveryStep) -> None:
        self.step = step
        self.config = step.config
        self.wake = threading.Event()
        self._slots = threading.Condition()
        self._queues: dict[str, deque[_Held]] = {}  # host -> claimed, waiting for a thread
        self._per_host: dict[str, int] = {}  # host -> attempts in flight
        self._held = 0  # claimed and not yet finished (waiting or in flight)
        self._moved: dict[str, float] = {}  # host -> when a delivery last left its queue (monotonic)
        self._stopping = False
        self._queues_full = False  # the last dispatch found no room: wait for a queue to run dry
        self._sleep_until = 0.0  # when the loop's current sleep ends (monotonic; 0 while it is awake)

    @property
    def _claim_lease(self) -> float:
        return self.config.delivery_lease + self.config.delivery_hold

    def run_forever(self, stop: threading.Event) -> None:
        threads = [threading.Thread(target=self._sender, name=f"delivery-{i}", daemon=True)
                   for i in range(max(1, self.config.delivery_threads))]
        for thread in threads:
            thread.start()
        try:
            while not stop.is_set():
                try:
                    full = self._dispatch()
                    self.step.record_if_due()
                except Exception:  # the store is down, say: try again shortly, keep the threads
                    log.exception("delivery pass failed", extra={"event": "delivery.pass_failed"})
                    stop.wait(self.config.error_backoff_initial)
                    continue
                if not full:
                    self._sleep_until = float("inf")  # from here, a new unrecorded attempt wakes the loop
                    idle = self._idle_seconds()
                    self._sleep_until = time.monotonic() + idle
                    self.wake.wait(idle)
                    self.wake.clear()
                    self._sleep_until = 0.0
        finally:
            with self._slots:
                self._stopping = True
                self._queues.clear()  # unsent: their leases are let go with the worker's (release_leases)
                self._slots.notify_all()
            for thread in threads:
                thread.join(self.config.attempt_deadline + 1)
            self.step.record()

    def _dispatch(self) -> bool:
        """Claim what fits in the queues (one write) and queue it per host; True to go again at once."""
        cap = self.config.delivery_queue_per_host
        with self._slots:
            # A claim takes what the fullest moving queue has room for, so a single busy host postpones
            # nothing; a host whose queue has not moved for HOST_BUSY_DELAY (a slow receiver) does not
            # count, so it cannot hold up the others' callbacks (its excess is postponed).
            moving = [len(q) for h, q in self._queues.items()
                      if q and time.monotonic() - self._moved.get(h, time.monotonic()) < HOST_BUSY_DELAY]
            room = min(self.config.delivery_queue - self._held, cap - max(moving, default=0))
            held = self._held
        # A claim of less than half a queue is not worth its write (one per record, as it was, cost a
        # fifth of a storm's callback CPU): the half still queued keeps the host busy until the next.
        self._queues_full = room <= 0 or bool(held and room < cap // 2)
        if self._queues_full:
            return False
        now = self.step.clock.now()
        claimed = self.step.store.claim_deliveries(self.step.owner, now, self._claim_lease, room)
        until = now + timedelta(seconds=self._claim_lease)
        standing = [d for d in claimed if self.step.stands(d)]
        self.step.prepare(standing)  # before any sender starts on them
        busy: list[str] = []
        queued: list[Delivery] = []
        hosts: set[str] = set()
        with self._slots:
            for delivery in standing:
                host = _host(delivery.target.url)
                queue = self._queues.setdefault(host, deque())
                if len(queue) >= cap:
                    busy.append(delivery.id)
                    continue
                queue.append(_Held(delivery, until))
                self._moved.setdefault(host, time.monotonic())  # a queue that never moves counts as stalled
                self._held += 1
                queued.append(delivery)
                hosts.add(host)
            self._slots.notify(self._startable(hosts, len(queued)))
        if busy:
            later = self.step.clock.now() + timedelta(seconds=HOST_BUSY_DELAY)
            self.step.store.postpone_deliveries(busy, self.step.owner, later)
            if not queued:
                self.wake.wait(HOST_BUSY_DELAY / 4)
        with self._slots:  # more may be due: go again at once if their hosts have room left
            room_left = any(len(self._queues.get(h, ())) < self.config.delivery_queue_per_host for h in hosts)
        return len(claimed) >= room and room_left

    def _startable(self, hosts: set[str], queued: int) -> int:
        """How many waiting senders can start now on ``hosts``' queues (the caller holds ``_slots``).

        Only free per-host slots can be used: waking a sender per delivery queued woke threads that
        found their host busy and went back to sleep, a context switch each.
        """
        free = sum(max(0, self.config.delivery_per_host - self._per_host.get(h, 0)) for h in hosts)
        return min(queued, free)

    def _next(self) -> tuple[str, _Held] | None:
        """The next delivery whose host has a free slot (hosts take turns), its slot taken; None to stop."""
        with self._slots:
            while not self._stopping:
                for host, queue in self._queues.items():
                    if queue and self._per_host.get(host, 0) < self.config.delivery_per_host:
                        held = queue.popleft()
                        self._moved[host] = time.monotonic()
                        self._queues.pop(host)
                        if queue:
                            self._queues[host] = queue  # to the back: the other hosts go first
                        else:
                            self._moved.pop(host, None)
                            self.wake.set()  # its queue ran dry: claim more while these go out
                        self._per_host[host] = self._per_host.get(host, 0) + 1
                        return host, held
                self._slots.wait()
        return None

    def _sender(self) -> None:
        while (taken := self._next()) is not None:
            host, held = taken
            try:
                if self._still_ours(host, held):
                    self.step.attempt(held.delivery)
                    due = self.step.record_if_due()
                    if due is not None and time.monotonic() + due < self._sleep_until:
                        self.wake.set()  # the loop sleeps past this record's time: it records within record_within
            except Exception:  # the store is down, say: the lease lapses and the delivery goes again later
                log.exception("delivery pass failed", extra={"event": "delivery.pass_failed"})
            finally:
                with self._slots:
                    self._per_host[host] -= 1
                    if not self._per_host[host]:
                        del self._per_host[host]
                    self._held -= 1
                    # No notify: this thread goes straight back to _next() and takes the slot it freed;
                    # waking another for it was a context switch per callback, most of them for nothing.

    def _still_ours(self, host: str, held: _Held) -> bool:
        """Whether the lease left covers an attempt and its record; renews the host's queue if not.

        One write renews every delivery waiting for this host; one another worker holds by now
        (its lease lapsed while it waited) is dropped unsent.
        """
        now = self.step.clock.now()
        if (held.until - now).total_seconds() >= self.config.delivery_lease:
            return True
        with self._slots:
            waiting = list(self._queues.get(host, ()))
        mine = {id(w) for w in waiting}
        renewed = set(self.step.store.renew_delivery_leases(
            [held.delivery.id, *(w.delivery.id for w in waiting)], self.step.owner, now, self._claim_lease))
        until = now + timedelta(seconds=self._claim_lease)
        with self._slots:
            queue = self._queues.get(host)
            for waiter in list(queue or ()):
                if waiter.delivery.id in renewed:
                    waiter.until = until
                elif queue is not None and id(waiter) in mine:
                    queue.remove(waiter)
                    self._held -= 1
        return held.delivery.id in renewed

    def _idle_seconds(self) -> float:
        waits = [self.config.idle_wait]
        record = self.step.record_due()
        if record is not None:
            waits.append(record)
        if self._queues_full:  # however much is due: a sender wakes the loop as a queue runs dry
            return max(0.005, min(waits))
        try:
            due = self.step.store.next_delivery_due(self.step.clock.now())
        except Exception:
            due = None
        if due is not None:
            waits.append((due - self.step.clock.now()).total_seconds())
        return max(0.005, min(waits))


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url
