"""The delivery loop's per-host limit, on real threads against a real SQLite store (no network)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from webhook.adapters.store import SqlStore
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.clock import SystemClock
from webhook.core.delivery_loop import DeliveryLoop
from webhook.core.delivery_policy import DeliveryPolicy
from webhook.core.delivery_step import DeliveryStep
from webhook.core.metrics import NullMetrics
from webhook.core.service import TriggerService
from webhook.core.triggers import AttemptResult
from webhook.core.worker import Worker
from webhook.core.worker_config import WorkerConfig
from webhook.sources import generic

from tests.fakes import FakeSddc


class HoldingNotifier:
    """Holds every attempt to slow.example.com until released; others answer at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.slow_in_flight = 0
        self.most_slow_at_once = 0
        self.fast_done = 0

    def send(self, delivery):  # noqa: ANN001
        if "slow.example.com" in delivery.target.url:
            with self.lock:
                self.slow_in_flight += 1
                self.most_slow_at_once = max(self.most_slow_at_once, self.slow_in_flight)
            self.release.wait(10)
            with self.lock:
                self.slow_in_flight -= 1
        else:
            with self.lock:
                self.fast_done += 1
        return AttemptResult(ok=True, status_code=200)


@contextmanager
def running(loop: DeliveryLoop) -> Iterator[DeliveryLoop]:
    """The loop on its own thread for the block, stopped and joined after it."""
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,), daemon=True)
    runner.start()
    try:
        yield loop
    finally:
        stop.set()
        loop.wake.set()
        runner.join(15)


def test_one_slow_host_gets_at_most_its_share_of_threads_and_the_others_go_out(tmp_path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'd.db'}")
    clock = SystemClock()
    service = TriggerService(store, clock, CallbackPolicy(HostAllowlist.of(["*.example.com"])))
    for i in range(12):
        host = "slow.example.com" if i < 8 else "fast.example.com"
        body = generic.parse_body(f'{{"callbackUrl": "https://{host}/cb"}}'.encode())
        service.accept(generic.to_trigger(body, caller="ci", received_at=clock.now(), headers={}))
    config = WorkerConfig(delivery_threads=4, delivery_per_host=2, poll_initial=0.01)
    notifier = HoldingNotifier()
    worker = Worker(store, FakeSddc(["Successful"]), notifier, clock, config, DeliveryPolicy())
    for _ in range(3):
        worker.attaching.attach()
        worker.backups.advance()  # submit, then poll: the backup ends, 12 results are owed
        time.sleep(0.02)
    loop = DeliveryLoop(DeliveryStep(store, notifier, clock, config, DeliveryPolicy(), NullMetrics()))
    with running(loop):
        try:
            deadline = time.monotonic() + 10
            while notifier.fast_done < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert notifier.fast_done == 4  # the fast host's callbacks went out while the slow host held on
            assert notifier.most_slow_at_once == 2  # never more than its share
        finally:
            notifier.release.set()


class CountingNotifier:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[str] = []

    def send(self, delivery):  # noqa: ANN001
        with self.lock:
            self.sent.append(delivery.id)
        return AttemptResult(ok=True, status_code=200)


def _owed(tmp_path, count: int):  # noqa: ANN202
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'd.db'}")
    clock = SystemClock()
    service = TriggerService(store, clock, CallbackPolicy(HostAllowlist.of(["*.example.com"])))
    for _ in range(count):
        body = generic.parse_body(b'{"callbackUrl": "https://hooks.example.com/cb"}')
        service.accept(generic.to_trigger(body, caller="ci", received_at=clock.now(), headers={}))
    worker = Worker(store, FakeSddc(["Successful"]), CountingNotifier(), clock,
                    WorkerConfig(poll_initial=0.01), DeliveryPolicy())
    for _ in range(3):
        worker.attaching.attach()
        worker.backups.advance()
        time.sleep(0.02)
    return store, clock


def test_a_delivery_that_waited_past_its_hold_is_renewed_before_its_attempt_and_sent_once(tmp_path):
    store, clock = _owed(tmp_path, 10)
    renewals: list[int] = []
    renew = store.renew_delivery_leases

    def counted(ids, *args):  # noqa: ANN001, ANN202
        renewals.append(len(ids))
        return renew(ids, *args)

    store.renew_delivery_leases = counted  # type: ignore[method-assign]
    # No hold at all: every attempt finds less than a full lease left and renews its host's queue first.
    config = WorkerConfig(delivery_threads=2, delivery_per_host=1, delivery_hold=0.0)
    notifier = CountingNotifier()
    loop = DeliveryLoop(DeliveryStep(store, notifier, clock, config, DeliveryPolicy(), NullMetrics()))
    with running(loop):
        deadline = time.monotonic() + 10
        while len(notifier.sent) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert sorted(notifier.sent) == sorted(set(notifier.sent)) and len(notifier.sent) == 10
    assert renewals and max(renewals) > 1  # one write renewed several waiting deliveries
    assert store.claim_deliveries("w-other", clock.now(), 60, 100) == []  # all recorded


def test_a_waiting_delivery_another_worker_took_meanwhile_is_dropped_unsent(tmp_path):
    from datetime import timedelta

    from webhook.core.delivery_loop import _Held

    store, clock = _owed(tmp_path, 3)
    config = WorkerConfig()
    notifier = CountingNotifier()
    loop = DeliveryLoop(DeliveryStep(store, notifier, clock, config, DeliveryPolicy(), NullMetrics()))
    mine = store.claim_deliveries(loop.step.owner, clock.now(), 0.01, 10)  # a lease that soon runs out
    time.sleep(0.05)
    past = clock.now() - timedelta(seconds=1)
    taken = store.claim_deliveries("w-other", clock.now(), 60, 10)
    assert {d.id for d in taken} == {d.id for d in mine} and len(mine) == 3
    first, *waiting = (_Held(d, past) for d in mine)
    loop._queues["hooks.example.com:"] = __import__("collections").deque(waiting)
    loop._held = 3
    assert loop._still_ours("hooks.example.com:", first) is False
    assert not loop._queues["hooks.example.com:"] and loop._held == 1  # the waiting two went too


def test_an_attempt_is_recorded_soon_after_it_went_out_even_while_the_loop_sleeps_long(tmp_path):
    from webhook.core.triggers import DeliveryState

    store, clock = _owed(tmp_path, 1)
    # The loop would otherwise sleep the whole idle_wait; the attempt's record must not wait for it.
    config = WorkerConfig(idle_wait=60.0, record_every=20, record_within=0.1)

    class SlowNotifier(CountingNotifier):
        def send(self, delivery):  # noqa: ANN001, ANN202
            time.sleep(0.3)  # the loop has gone to sleep by the time this attempt is done
            return super().send(delivery)

    notifier = SlowNotifier()
    loop = DeliveryLoop(DeliveryStep(store, notifier, clock, config, DeliveryPolicy(), NullMetrics()))
    with running(loop):
        deadline = time.monotonic() + 20
        recorded = []
        while time.monotonic() < deadline and not recorded:
            [trigger] = store.list_triggers(source=None, state=None, since=None, limit=5)
            recorded = [d for d in store.deliveries_of_trigger(trigger.id) if d.state is DeliveryState.DELIVERED]
            time.sleep(0.05)
        assert recorded and len(notifier.sent) == 1


class CountingCondition(threading.Condition):
    """Counts how often a sender went to sleep waiting for a slot."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout=None):  # noqa: ANN001, ANN201
        self.waits += 1
        return super().wait(timeout)


class RoundTripNotifier(CountingNotifier):
    """Answers after a millisecond, as a receiver on the same host would."""

    def send(self, delivery):  # noqa: ANN001
        time.sleep(0.001)
        return super().send(delivery)


def test_senders_are_woken_only_for_deliveries_they_can_start(tmp_path):
    store, clock = _owed(tmp_path, 60)
    notifier = RoundTripNotifier()
    config = WorkerConfig(delivery_threads=8, delivery_per_host=2)
    loop = DeliveryLoop(DeliveryStep(store, notifier, clock, config, DeliveryPolicy(), NullMetrics()))
    loop._slots = CountingCondition()
    with running(loop):
        deadline = time.monotonic() + 10
        while len(notifier.sent) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert sorted(notifier.sent) == sorted(set(notifier.sent)) and len(notifier.sent) == 60
    # Two senders can work on one host: a finished one takes the next itself. Waking a sender per
    # delivery queued and per delivery finished put threads back to sleep 1.4 times per callback (84-90 here).
    assert loop._slots.waits < 30, loop._slots.waits
