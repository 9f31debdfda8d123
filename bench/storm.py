"""Section 2: a trigger storm from several sources → one backup, one result per trigger.

1,000 triggers (split evenly over the available ways in, each with its own callback path) are sent
over 16 keep-alive connections while one simulated backup runs. Counted at the simulator (POSTs to
/v1/backups/tasks) and at the receiver (final results per callback path: none = lost, two = duplicated),
not from the service's own bookkeeping. The same storm then goes to the peer, which runs its
"start a backup" script once per request: its script's own log is counted, not its 2xx answers.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .load import connection
from .payloads import Endpoint
from .receiver import Receiver
from .throughput import Context, MemorySampler

SENDERS = 16
# The storm's nodes poll the backup's task this often, whatever its age. With the default schedule
# (2 s, growing to a tenth of the backup's age) the 60 s backup of the large storm is seen ended up
# to 6 s late and the 10 s one up to 2 s: a gap set by each backup's length, not by the number of
# triggers, which the two storms' "backup end → last callback" figures are there to compare.
POLL_INTERVAL = 0.25

Request = tuple[str, dict[str, str], bytes]


def fire(
    base_url: str, requests: list[Request], conns: int = SENDERS, timeout: float = 120.0,
) -> list[tuple[int, float]]:
    """Send every request once over ``conns`` keep-alive connections; (status, time answered) each."""
    target = urlsplit(base_url)
    todo: queue.SimpleQueue[Request] = queue.SimpleQueue()
    for item in requests:
        todo.put(item)
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def loop() -> None:
        conn = connection(target.hostname or "127.0.0.1", target.port or 80)
        while time.monotonic() < deadline:
            try:
                path, headers, body = todo.get_nowait()
            except queue.Empty:
                break
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                status = 0
            with lock:
                answers.append((status, time.time()))
        conn.close()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(conns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return answers


def storm_requests(endpoints: list[Endpoint], total: int, receiver: Receiver, tag: str) -> list[Request]:
    """``total`` requests, round-robin over the endpoints, each with its own callback path /storm/<source>/<i>."""
    mixed: list[Request] = []
    for i in range(total):
        endpoint = endpoints[i % len(endpoints)]
        source = endpoint.path.rsplit("/", 1)[1]
        values, body = endpoint.build(i, tag, lambda n, s=source: f"{receiver.base}/storm/{s}/{n}")
        mixed.append((endpoint.path, dict(zip(endpoint.header_names, values, strict=True)), body))
    return mixed


def wait_for_finals(receiver: Receiver, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver.final_paths() >= expected:
            time.sleep(1.0)  # a duplicate would arrive right after: give it the chance to be counted
            return
        time.sleep(0.1)


def run_storm(ctx: Context, total: int, backup_seconds: float, timeout: float) -> dict[str, Any]:
    endpoints = [ep for ep in payloads.STORM_ENDPOINTS if ep.available()]
    sim = SimulatorServer(SimulatorConfig(backup_seconds=backup_seconds)).start()
    receiver = Receiver().start()
    port = servers.free_port()
    env = servers.node_env(ctx.work / f"storm-{total}.db", port, sim.url, receiver.host,
                           VCFBACKUP_POLL_INTERVAL=f"{POLL_INTERVAL}s", VCFBACKUP_POLL_MAX_INTERVAL=f"{POLL_INTERVAL}s")
    try:
        with servers.serve_node(ctx.work, f"storm-{total}", env) as node:
            requests = storm_requests(endpoints, total, receiver, f"storm{int(time.time())}")
            sampler = MemorySampler(servers.node_processes(node.pid)).start()
            began = time.time()
            answers = fire(node.url, requests)
            last_ack = max((t for _, t in answers), default=began)
            wait_for_finals(receiver, total, timeout)
            memory = sampler.stop()
            arrivals = receiver.snapshot()
            tasks = sim.state.task_views()
            seen = [sim.state.end_read_at(t["id"]) for t in tasks]
            posts = sim.state.backups_started
    finally:
        receiver.stop()
        sim.stop()
    finals = Counter(a.path for a in arrivals if a.is_final())
    started = Counter(a.path for a in arrivals if not a.is_final())
    statuses = Counter(status for status, _ in answers)
    acked = sum(n for status, n in statuses.items() if 200 <= status < 300)
    last_final = max((a.at for a in arrivals if a.is_final()), default=float("nan"))
    ended = [_epoch(t.get("completionTimestamp")) for t in tasks]
    task_end = min((e for e in ended if e is not None), default=float("nan"))
    end_seen = min((e for e in seen if e is not None), default=float("nan"))
    result = {
        "triggers": total, "sources": [ep.name for ep in endpoints], "send_seconds": last_ack - began,
        "acked_2xx": acked, "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "backups_started": posts, "results_delivered": sum(1 for n in finals.values() if n >= 1),
        "lost": total - len(finals), "duplicated": sum(n - 1 for n in finals.values() if n > 1),
        "started_messages": sum(started.values()), "backup_seconds": backup_seconds,
        "last_trigger_to_last_callback_s": last_final - last_ack,
        "task_end_to_last_callback_s": last_final - task_end,
        "task_end_to_end_seen_s": end_seen - task_end, "end_seen_to_last_callback_s": last_final - end_seen,
        "poll_interval_s": POLL_INTERVAL,
        "peak_mb": {role: max(seen["peak_rss_mb"], seen["vmhwm_mb"]) for role, seen in memory.items()},
    }
    ctx.say(f"  storm of {total}: {acked}/{total} acked in {result['send_seconds']:.1f} s, {posts} backup(s) started, "
            f"{result['results_delivered']} results, {result['lost']} lost, {result['duplicated']} duplicated")
    return result


def run_peer_storm(ctx: Context, total: int, settle: float = 3.0) -> dict[str, Any]:
    server, ran = servers.peer(ctx.work, "peer-storm")
    with server:
        values, body = payloads.GENERIC.build(0, "storm", None)
        headers = dict(zip(payloads.GENERIC.header_names, values, strict=True))
        began = time.time()
        answers = fire(server.url, [("/hooks/backup", headers, body)] * total)
        seconds = max((t for _, t in answers), default=began) - began
        executed = servers.executions(ran, settle)
    acked = sum(1 for status, _ in answers if 200 <= status < 300)
    ctx.say(f"  peer storm: {acked}/{total} acked in {seconds:.1f} s, its script ran {executed} times "
            f"= {executed} backups started")
    return {"triggers": total, "acked_2xx": acked, "send_seconds": seconds, "backups_started": executed}


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
