"""Ack latency of ``POST /hooks/slack`` (Slack gives 3 s), with a bare-Flask baseline from the same run.

Each request is signed like Slack signs it and sent over real HTTP on loopback to the real app
(SQLite store with fsync, as shipped; no worker, since the ack path never needs one). The
baseline is a Flask endpoint that only returns 200 behind the same server, so the difference
is what verification, parsing and the durable commit cost.

    python bench/slack_ack.py                 # 200 requests per row, a table
    python bench/slack_ack.py --count 20 --json
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from webhook.app import Services, build_store, create_app
from webhook.settings import Settings

SECRET = "bench-slack-signing-secret"
SLACK_BUDGET_MS = 3000.0


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def serve(app: Any) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/hooks/slack"


def baseline_app() -> Flask:
    app = Flask("baseline")

    @app.post("/hooks/slack")
    def ack() -> tuple[str, int]:
        return "", 200

    return app


def service_app(directory: Path) -> Flask:
    settings = Settings(database_url=f"sqlite:///{directory / 'bench.db'}", slack_signing_secret=SECRET,
                        slack_response_hosts=["hooks.slack.com"], log_level="ERROR")
    return create_app(settings, services=Services(settings=settings, store=build_store(settings)))


def signed(text: str, trigger_id: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "token": "x", "team_id": "TBENCH", "team_domain": "bench", "channel_id": "CBENCH", "channel_name": "bench",
        "user_id": "UBENCH", "user_name": "bench", "command": "/vcf-backup", "text": text, "api_app_id": "ABENCH",
        "response_url": f"https://hooks.slack.com/commands/TBENCH/{trigger_id}/x", "trigger_id": trigger_id,
    }).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                  "X-Slack-Signature": f"v0={digest}"}


def measure(url: str, count: int, warmup: int, request_of: Callable[[int], tuple[str, str]]) -> list[float]:
    """Milliseconds per request (signing happens outside the timed part)."""
    timings: list[float] = []
    with requests.Session() as session:
        for i in range(warmup + count):
            text, trigger_id = request_of(i)
            body, headers = signed(text, trigger_id)
            started = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=10)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
            if i >= warmup:
                timings.append(elapsed)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run(count: int, warmup: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="slack-ack-") as tmp:
        servers = []
        try:
            base_server, base_url = serve(baseline_app())
            app_server, app_url = serve(service_app(Path(tmp)))
            servers = [base_server, app_server]
            cases: list[tuple[str, str, Callable[[int], tuple[str, str]]]] = [
                ("baseline: bare Flask 200", base_url, lambda i: ("backup", f"base.{i}")),
                ("backup (new trigger, committed)", app_url, lambda i: (f"backup bench {i}", f"new.{i}")),
                ("backup (same trigger_id again)", app_url, lambda i: ("backup", "dup.1")),
                ("status (latest)", app_url, lambda i: ("status", f"status.{i}")),
                ("help", app_url, lambda i: ("help", f"help.{i}")),
            ]
            for name, url, request_of in cases:
                timings = measure(url, count, warmup, request_of)
                rows.append({"case": name, "n": len(timings), "p50_ms": percentile(timings, 50),
                             "p99_ms": percentile(timings, 99), "max_ms": max(timings)})
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]["p50_ms"]
    lines = [f"{'case':<34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p50 - baseline':>15}"]
    for row in rows:
        lines.append(f"{row['case']:<34} {row['n']:>5} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                     f"{row['max_ms']:>8.2f} {row['p50_ms'] - base:>+15.2f}")
    worst = max(row["max_ms"] for row in rows)
    lines.append(f"Slack's budget is {SLACK_BUDGET_MS:.0f} ms; the slowest request here took {worst:.1f} ms.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="timed requests per case (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first (default 10)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    rows = run(max(1, args.count), max(0, args.warmup))
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
