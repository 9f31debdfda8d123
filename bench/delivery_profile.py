"""Where the worker loop's CPU goes per callback: a store filled with N owed results, sent by the real loop.

``python -m bench.delivery_profile --deliveries 3000`` stores N finished triggers (round-robin: generic
webhook, Slack response_url, HCP Terraform run task), each owing its final result to its own path on
``bench/receiver.py``, then runs the worker's own ``DeliveryLoop`` (the notifiers, metrics and INFO
JSON logging ``serve`` builds) until every result is recorded. Each loop thread runs under cProfile
with a per-thread CPU clock, so the shares are CPU, not waiting; the absolute figures include
cProfile's own overhead. Prints CPU per delivery and each cost's share. Nothing here is asserted on.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webhook.core.delivery_loop import DeliveryLoop
from webhook.core.models import default_spec
from webhook.core.results import result_document
from webhook.core.triggers import (
    Backup,
    BackupState,
    CallbackTarget,
    Delivery,
    DeliveryEvent,
    Trigger,
    TriggerState,
)

from . import servers
from .receiver import Receiver

# (label, function names whose inclusive CPU it is); nested ones are inside the ones above them.
COSTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("claim (one write per batch, rows read into models)", ("claim_deliveries",)),
    ("siblings read per batch (Slack budget, run task)", ("prepare",)),
    ("send: the notifier as a whole", ("send",)),
    ("  send-time URL checks (allowlist, getaddrinfo)", ("refusal",)),
    ("  message rendering (Slack Block Kit, JSON:API)", ("for_delivery", "task_result")),
    ("  JSON encoding", ("dumps",)),
    ("  signing (Standard Webhooks)", ("sign_standard_webhook",)),
    ("  HTTP request and answer (bounded_http)", ("request",)),
    ("    the watchdog (arm/disarm; its thread only wakes per 15 s)", ("arm", "disarm")),
    ("    answer headers", ("_header_lines", "_message", "parse_headers")),
    ("attempt recording (executemany + commit)", ("record",)),
    ("  erasing run-task tokens", ("_forget_many", "_forget")),
    ("logging (per attempt and per record)", ("info", "debug")),
    ("metrics", ("delivery",)),
    ("retry policy", ("next_state",)),
    ("lease checks before each attempt", ("_still_ours",)),
)


def fill(store: Any, receiver: Receiver, count: int, kinds: list[str]) -> None:
    """``count`` DONE triggers on one ended backup, each owing its final result (its own callback path)."""
    now = datetime.now(UTC)
    backup = Backup(spec=default_spec(), created_at=now - timedelta(minutes=1), state=BackupState.SUCCESSFUL,
                    sddc_task_id="task-bench", name="bench", completed_at=now)
    owed: list[Delivery] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        options: dict[str, Any] = {}
        if kind == "slack":
            options = {"response_type": "ephemeral", "user_id": "UBENCH"}
        elif kind == "tfc_run_task":
            options = {"access_token": f"bench-token-{i}", "expires_at": (now + timedelta(minutes=9)).isoformat(),
                       "deadline": (now + timedelta(minutes=8)).isoformat(), "status_url": "https://x/status",
                       "forget_after_final": ["access_token"]}
        trigger = Trigger(source="bench", caller="bench", spec=default_spec(), reason=f"profile {i}",
                          received_at=now, state=TriggerState.DONE, backup_id=backup.id, completed_at=now,
                          callback=CallbackTarget(kind=kind, url=f"{receiver.base}/profile/{kind}/{i}",
                                                  options=options))
        store.add_trigger(trigger, [])
        owed.append(Delivery(trigger_id=trigger.id, event=DeliveryEvent.COMPLETED, target=trigger.callback,
                             body=result_document(trigger, backup), created_at=now, next_attempt_at=now,
                             give_up_at=now + timedelta(hours=1)))
    store.add_deliveries(owed)


def profiled(target: Callable[..., None], profiles: list[cProfile.Profile]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()
        try:
            target(*args)
        finally:
            profile.disable()
    return run


def inclusive(stats: pstats.Stats, names: tuple[str, ...]) -> tuple[float, int]:
    """CPU seconds in these functions, callees included (outermost calls only), and how many calls."""
    total, calls = 0.0, 0
    for (_, _, name), (_, primitive, _, cumulative, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name in names and not any(caller[2] in names for caller in callers):
            total += cumulative
            calls += primitive
    return total, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--kinds", default="webhook,slack,tfc_run_task")
    parser.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="delivery-profile-"))
    receiver = Receiver().start()
    os.environ.update(servers.node_env(work / "node.db", servers.free_port(), "https://sddc.invalid",
                                       receiver.host, VCFBACKUP_CALLBACK_SIGNING_SECRET="whsec_" + "A" * 43))
    from webhook.logs import configure_logging
    from webhook.settings import Settings
    from webhook.wiring import build_store, build_worker

    settings = Settings()
    configure_logging("INFO")
    store = build_store(settings)
    fill(store, receiver, args.deliveries, args.kinds.split(","))
    worker = build_worker(settings, store)
    profiles: list[cProfile.Profile] = []
    DeliveryLoop._sender = profiled(DeliveryLoop._sender, profiles)  # type: ignore[method-assign]
    loop = DeliveryLoop(worker.deliveries)
    stop = threading.Event()
    runner = threading.Thread(target=profiled(loop.run_forever, profiles), args=(stop,), daemon=True)
    began, cpu_began = time.monotonic(), time.process_time()
    runner.start()
    while len({a.path for a in receiver.snapshot()}) < args.deliveries or loop.step.record_due() is not None:
        time.sleep(0.05)
    wall = time.monotonic() - began
    stop.set()
    loop.wake.set()
    runner.join(30)
    process_cpu = time.process_time() - cpu_began
    receiver.stop()
    stats = pstats.Stats(profiles[0], stream=io.StringIO())
    for profile in profiles[1:]:
        stats.add(profile)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]  (own times)
    states: dict[str, int] = {}
    for delivery in store.deliveries_of_triggers([d.trigger_id for d in _all(store)]).values():
        for d in delivery:
            states[d.state.value] = states.get(d.state.value, 0) + 1
    n = args.deliveries
    print(f"{n} deliveries ({args.kinds}) in {wall:.1f} s; states {states}")
    print(f"loop threads' CPU under cProfile: {1000 * total / n:.3f} ms per delivery; "
          f"whole process (receiver included, no profiler on it): {1000 * process_cpu / n:.3f} ms")
    for label, names in COSTS:
        spent, calls = inclusive(stats, names)
        print(f"{100 * spent / total:5.1f}%  {1000 * spent / n:.3f} ms  {calls:6d} calls  {label}")
    if args.top:
        stats.stream = __import__("sys").stdout  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(args.top)
        if os.environ.get("CALLEES"):
            stats.print_callees(os.environ["CALLEES"])


def _all(store: Any) -> list[Delivery]:
    from webhook.adapters.store.schema import deliveries

    with store._tx() as conn:
        ids = [row.trigger_id for row in conn.execute(deliveries.select())]
    return [Delivery.model_construct(trigger_id=i) for i in ids]


if __name__ == "__main__":
    main()
