"""Section 5: isolation. Figures with a disturbance beside the same figures without it, in one run.

- Slow clients: ``/healthz`` and ``POST /v1/triggers`` latency (two closed-loop clients each) on a
  quiet node, then while 200 connections trickle request headers (a byte every 0.5 s; a dropped one
  reconnects, so 200 stay open throughout).
- A slow callback endpoint: one trigger at a time, each opening its own backup, the time from sending
  the trigger to its ``POST /v1/backups/tasks`` reaching the simulator, on a quiet node, then while an
  earlier backup's callback endpoint sleeps 60 s before answering (the attempt's deadline is longer).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .load import percentile
from .receiver import Receiver
from .throughput import Context

TRICKLERS = 200
SLEEP_SECONDS = 60.0


class Tricklers:
    """``count`` connections that trickle request headers and never finish; bounded by ``seconds``."""

    def __init__(self, port: int, count: int, seconds: float, interval: float = 0.5) -> None:
        self.port, self.count, self.seconds, self.interval = port, count, seconds, interval
        self.open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tricklers:
        self._thread.start()
        deadline = time.monotonic() + 10
        while self.open < self.count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _connect(self) -> tuple[socket.socket, int] | None:
        try:
            return socket.create_connection(("127.0.0.1", self.port), timeout=2), 0
        except OSError:
            return None

    def _run(self) -> None:
        head = b"POST /v1/triggers HTTP/1.1\r\nHost: bench\r\nX-Pad: " + b"a" * 4000
        conns = [c for c in (self._connect() for _ in range(self.count)) if c is not None]
        self.open = len(conns)
        end = time.monotonic() + self.seconds
        try:
            while time.monotonic() < end and not self._stop.is_set():
                for i, (sock, sent) in enumerate(conns):
                    try:
                        sock.send(head[sent % len(head):sent % len(head) + 1])
                        conns[i] = (sock, sent + 1)
                    except OSError:  # dropped at the server's read deadline: come back, as an attacker would
                        sock.close()
                        again = self._connect()
                        if again is not None:
                            conns[i] = again
                self._stop.wait(self.interval)
        finally:
            for sock, _ in conns:
                sock.close()


def _latencies(url: str, seconds: float) -> dict[str, list[float]]:
    """Two clients on /healthz and two on POST /v1/triggers, each one request at a time, for ``seconds``."""
    found: dict[str, list[float]] = {"healthz": [], "trigger": []}
    end = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {payloads.API_TOKEN}"}

    def client(kind: str) -> None:
        with requests.Session() as session:
            while time.monotonic() < end:
                began = time.perf_counter()
                try:
                    if kind == "healthz":
                        ok = session.get(url + "/healthz", timeout=30).status_code == 200
                    else:
                        ok = session.post(url + "/v1/triggers", headers=headers, json={"reason": "isolation"},
                                          timeout=30).status_code == 202
                except requests.RequestException:
                    ok = False
                found[kind].append((time.perf_counter() - began) * 1000 if ok else float("inf"))

    threads = [threading.Thread(target=client, args=(k,)) for k in ("healthz", "healthz", "trigger", "trigger")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def _summary(values: list[float]) -> dict[str, Any]:
    values = sorted(values)
    failed = sum(1 for v in values if v == float("inf"))
    ok = [v for v in values if v != float("inf")]
    return {"requests": len(values), "failed": failed,
            "p50_ms": statistics.median(ok) if ok else None, "p99_ms": percentile(ok, 99) if ok else None}


def run_slow_clients(ctx: Context, seconds: float) -> dict[str, Any]:
    env = servers.node_env(ctx.work / "isolation-clients.db", servers.free_port(), ctx.sim_url, ctx.receiver_host)
    with servers.serve_node(ctx.work, "isolation-clients", env) as node:
        quiet = _latencies(node.url, seconds)
        with Tricklers(int(env["VCFBACKUP_PORT"]), TRICKLERS, seconds + 15) as tricklers:
            opened = tricklers.open
            trickled = _latencies(node.url, seconds)
    result: dict[str, Any] = {"tricklers": opened, "seconds": seconds,
              "quiet": {k: _summary(v) for k, v in quiet.items()},
              "trickled": {k: _summary(v) for k, v in trickled.items()}}
    ctx.say(f"  slow clients: /healthz p99 {_ms(result['quiet']['healthz']['p99_ms'])} quiet, "
            f"{_ms(result['trickled']['healthz']['p99_ms'])} with {opened} tricklers; trigger p99 "
            f"{_ms(result['quiet']['trigger']['p99_ms'])} / {_ms(result['trickled']['trigger']['p99_ms'])}")
    return result


class _Sleepy(BaseHTTPRequestHandler):
    release = threading.Event()
    called = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.called.set()
        self.release.wait(SLEEP_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def _to_submit(url: str, sim: SimulatorServer, samples: int) -> list[float]:
    """Milliseconds from sending a trigger to its POST /v1/backups/tasks, one backup at a time."""
    headers = {"Authorization": f"Bearer {payloads.API_TOKEN}"}
    found: list[float] = []
    for i in range(samples):
        while sim.state.running_ids():  # the previous backup must end: each trigger opens its own
            time.sleep(0.005)
        time.sleep(0.05)
        started = sim.state.backups_started
        began = time.perf_counter()
        requests.post(url + "/v1/triggers", headers=headers, json={"reason": f"submit {i}"},
                      timeout=10).raise_for_status()
        deadline = time.monotonic() + 30
        while sim.state.backups_started == started and time.monotonic() < deadline:
            time.sleep(0.002)
        found.append((time.perf_counter() - began) * 1000)
    return found


def run_slow_callback(ctx: Context, samples: int) -> dict[str, Any]:
    sim = SimulatorServer(SimulatorConfig(backup_seconds=0.05)).start()
    sleepy = ThreadingHTTPServer(("127.0.0.1", 0), _Sleepy)
    sleepy.daemon_threads = True
    threading.Thread(target=sleepy.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    sleepy_host = f"127.0.0.1:{sleepy.server_address[1]}"
    receiver = Receiver().start()
    _Sleepy.release.clear()
    _Sleepy.called.clear()
    env = servers.node_env(ctx.work / "isolation-callback.db", servers.free_port(), sim.url, receiver.host,
                           VCFBACKUP_CALLBACK_ALLOWED_HOSTS=f"{receiver.host},{sleepy_host}",
                           VCFBACKUP_CALLBACK_TIMEOUT=f"{SLEEP_SECONDS + 30:g}s", VCFBACKUP_POLL_INTERVAL="0.05s")
    try:
        with servers.serve_node(ctx.work, "isolation-callback", env) as node:
            quiet = _to_submit(node.url, sim, samples)
            requests.post(node.url + "/v1/triggers", timeout=10, json={"callbackUrl": f"http://{sleepy_host}/cb"},
                          headers={"Authorization": f"Bearer {payloads.API_TOKEN}"}).raise_for_status()
            if not _Sleepy.called.wait(30):  # that backup ended and its callback is in flight, asleep
                raise RuntimeError("the slow callback was never attempted")
            slowed = _to_submit(node.url, sim, samples)
    finally:
        _Sleepy.release.set()
        sleepy.shutdown()
        sleepy.server_close()
        receiver.stop()
        sim.stop()
    result: dict[str, Any] = {"samples": samples, "callback_sleeps_s": SLEEP_SECONDS,
              "quiet": {"median_ms": statistics.median(quiet), "p99_ms": percentile(sorted(quiet), 99)},
              "slow_callback": {"median_ms": statistics.median(slowed), "p99_ms": percentile(sorted(slowed), 99)}}
    ctx.say(f"  slow callback: trigger→POST median {_ms(result['quiet']['median_ms'])} quiet, "
            f"{_ms(result['slow_callback']['median_ms'])} while a callback endpoint sleeps {SLEEP_SECONDS:g} s")
    return result


def run_isolation(ctx: Context, seconds: float, samples: int) -> dict[str, Any]:
    return {"slow_clients": run_slow_clients(ctx, seconds), "slow_callback": run_slow_callback(ctx, samples)}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
