"""The delivery loop's per-host limit, on real threads against a real SQLite store (no network)."""

from __future__ import annotations

import threading
import time

from webhook.adapters.store import SqlStore
from webhook.core.callbacks import CallbackPolicy, HostAllowlist
from webhook.core.clock import SystemClock
from webhook.core.delivery_policy import DeliveryPolicy
from webhook.core.delivery_step import DeliveryLoop, DeliveryStep
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
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while notifier.fast_done < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert notifier.fast_done == 4  # the fast host's callbacks went out while the slow host held on
        assert notifier.most_slow_at_once == 2  # never more than its share
    finally:
        notifier.release.set()
        stop.set()
        loop.wake.set()
        runner.join(15)
