"""Section 7: where the CPU of one acknowledgement goes, measured piece by piece in this process.

Each endpoint is driven through the real WSGI app (``create_app``, no HTTP, one thread) and so is the
durable floor; the difference is what the service adds above the floor. Then each named cost is
timed alone (the same functions the request path calls, with the request's own inputs) and shown
as microseconds per request and as a share of its endpoint's in-process CPU. CPU time
(``time.process_time``), not wall time: the figures hold on a busy machine. The store runs with
``synchronous=OFF`` here so that a commit's wait for the disk does not stall the loop (the fsync
costs little CPU; the throughput section measures it with FULL).

Run alone: ``.venv/bin/python -m bench.costs`` (about 30 seconds).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import payloads

N_REQUESTS = 1500
N_CALLS = 2000
CALLBACK_HOST = "127.0.0.1:1"

Environ = dict[str, Any]


def _settings_env(database: Path) -> dict[str, str]:
    return {
        "VCFBACKUP_DATABASE_URL": f"sqlite:///{database}", "VCFBACKUP_SQLITE_SYNCHRONOUS": "OFF",
        "VCFBACKUP_SDDC_URL": "http://127.0.0.1:9", "VCFBACKUP_SDDC_USERNAME": "admin@local",
        "VCFBACKUP_SDDC_PASSWORD": "unused-here", "VCFBACKUP_API_TOKENS": f"bench:{payloads.API_TOKEN}",
        "VCFBACKUP_ALERTMANAGER_TOKEN": payloads.ALERTMANAGER_TOKEN,
        "VCFBACKUP_SLACK_SIGNING_SECRET": payloads.SLACK_SECRET, "VCFBACKUP_SLACK_RESPONSE_HOSTS": CALLBACK_HOST,
        "VCFBACKUP_TFC_HMAC_KEY": payloads.TFC_KEY, "VCFBACKUP_TFC_HOSTS": CALLBACK_HOST,
        "VCFBACKUP_CALLBACK_ALLOWED_HOSTS": CALLBACK_HOST, "VCFBACKUP_CALLBACK_ALLOW_HTTP": "true",
    }


def environ_of(path: str, names: tuple[str, ...], values: list[str], body: bytes) -> Environ:
    """A WSGI environ as gunicorn builds it for this request."""
    env: Environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "HTTP_HOST": "127.0.0.1:8080", "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in zip(names, values, strict=True):
        if name == "Content-Type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


BATCHES = 10  # each figure is the cheapest batch's mean: other work on the machine only ever adds


def per_call_us(fn: Callable[[], object], n: int = N_CALLS) -> float:
    for _ in range(min(50, n)):
        fn()
    size = max(1, n // BATCHES)
    best = float("inf")
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(size):
            fn()
        best = min(best, (time.process_time() - started) / size)
    return 1e6 * best


def drive(app: Any, environs: list[Environ]) -> tuple[float, int]:
    """CPU µs per request through ``app`` (the cheapest batch's mean), and how many answers were not 2xx."""
    bad = 0

    def start_response(status: str, _headers: object, _exc: object = None) -> None:
        nonlocal bad
        bad += not status.startswith("2")

    for env in environs[:50]:
        b"".join(app(env, start_response))
    bad = 0
    timed = environs[50:]
    size = max(1, len(timed) // BATCHES)
    best = float("inf")
    for start in range(0, len(timed) - size + 1, size):
        began = time.process_time()
        for env in timed[start:start + size]:
            b"".join(app(env, start_response))
        best = min(best, (time.process_time() - began) / size)
    return 1e6 * best, bad


ENDPOINTS: dict[str, tuple[payloads.Endpoint, str]] = {
    "POST /v1/triggers": (payloads.GENERIC, "/v1/triggers"),
    "POST /hooks/terraform": (payloads.GENERIC, "/hooks/terraform"),
    "POST /hooks/alertmanager": (payloads.ALERTMANAGER, "/hooks/alertmanager"),
    "POST /hooks/slack": (payloads.SLACK, "/hooks/slack"),
    "POST /hooks/terraform/run-task": (payloads.TERRAFORM, "/hooks/terraform/run-task"),
}


def requests_of(endpoint: payloads.Endpoint, path: str, count: int, tag: str) -> list[tuple[list[str], bytes, Environ]]:
    callback = (lambda i: f"http://{CALLBACK_HOST}/costs/{tag}/{i}") if endpoint.unique else None
    found = []
    for i in range(count):
        values, body = endpoint.build(i, tag, callback)
        found.append((values, body, environ_of(path, endpoint.header_names, values, body)))
    return found


def run_costs(n_requests: int = N_REQUESTS, n_calls: int = N_CALLS) -> dict[str, Any]:
    """Endpoint totals (in-process µs/req, floor included) and the named costs, each in µs per call."""
    work = Path(tempfile.mkdtemp(prefix="vcf-bench-costs-"))
    saved = dict(os.environ)
    os.environ.update(_settings_env(work / "costs.db"))
    try:
        return _measure(work, n_requests, n_calls)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        for path in work.iterdir():
            path.unlink()
        work.rmdir()


def _measure(work: Path, n_requests: int, n_calls: int) -> dict[str, Any]:
    from webhook.app import create_app
    from webhook.settings import Settings

    from .floor_app import create_floor_app

    settings = Settings()
    app = create_app(settings)
    logger = logging.getLogger("webhook")
    streams = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    devnull = open(os.devnull, "w")  # noqa: SIM115 - the log lines are formatted and written, to nowhere
    saved_streams = [h.setStream(devnull) for h in streams]
    try:
        floor_app = create_floor_app(settings.model_copy(update={"database_url": f"sqlite:///{work / 'floor.db'}"}))
        totals: dict[str, float] = {}
        errors: dict[str, int] = {}
        floor_us, bad = drive(floor_app, [e for _, _, e in requests_of(payloads.GENERIC, "/x", n_requests, "f")])
        totals["durable floor"], errors["durable floor"] = floor_us, bad
        for name, (endpoint, path) in ENDPOINTS.items():
            tag = f"c{time.time_ns()}"
            totals[name], errors[name] = drive(app, [e for _, _, e in requests_of(endpoint, path, n_requests, tag)])
        costs = _pieces(app, settings, n_calls)
    finally:
        for handler, stream in zip(streams, saved_streams, strict=True):
            handler.setStream(stream)  # type: ignore[arg-type]
        devnull.close()
    return {"requests": n_requests, "calls": n_calls, "totals_us": totals, "errors": errors, "costs": costs}


def _pieces(app: Any, settings: Any, n: int) -> list[dict[str, Any]]:
    """Each named cost alone: (what, endpoint it belongs to, µs per request)."""
    from webhook.adapters.doorbell import Doorbell
    from webhook.adapters.metrics import PrometheusMetrics
    from webhook.core.views import TriggerView
    from webhook.sources import alertmanager, generic, slack, terraform
    from webhook.sources.matchers import matches_all
    from webhook.web import request_ids
    from webhook.web.context import EXTENSION
    from webhook.web.triggers import view_response

    ctx = app.extensions[EXTENSION]
    service = ctx.service
    store = service.store
    now = service.clock.now()
    rows: list[dict[str, Any]] = []

    def add(what: str, endpoints: str, us: float) -> None:
        # A source's own cost is shown against its endpoint; a shared one against POST /v1/triggers.
        share_of = f"POST {endpoints}" if f"POST {endpoints}" in ENDPOINTS else "POST /v1/triggers"
        rows.append({"cost": what, "endpoints": endpoints, "us": us, "share_of": share_of})

    generic_values, generic_body, generic_env = requests_of(payloads.GENERIC, "/v1/triggers", 1, "g")[0]
    am = requests_of(payloads.ALERTMANAGER, "/hooks/alertmanager", 1, f"a{time.time_ns()}")[0]
    sl = requests_of(payloads.SLACK, "/hooks/slack", 1, "s")[0]
    tf = requests_of(payloads.TERRAFORM, "/hooks/terraform/run-task", 1, "t")[0]

    def answered(_environ: Environ, start_response: Any) -> list[bytes]:
        start_response("202 ACCEPTED", [("Content-Type", "application/json")])
        return []

    ids = request_ids.RequestIds(answered)  # the middleware around an app that only answers
    add("request id (take or make, echo)", "all", per_call_us(
        lambda: ids(dict(generic_env), lambda _status, _headers, _exc=None: None), n))
    with app.request_context(dict(generic_env, **{"wsgi.input": io.BytesIO(generic_body)})):
        log = logging.getLogger("webhook.service")
        add("logging: the audit line (JSON, request id)", "all (one per request)", per_call_us(
            lambda: log.info("trigger accepted", extra={"event": "trigger.accepted", "trigger_id": "trg_x" * 6,
                                                        "source": "generic", "caller": "bench"}), n))
        metrics = PrometheusMetrics()
        add("metrics: trigger counter", "all", per_call_us(lambda: metrics.trigger("generic", "accepted"), n))
        trigger = generic.intake(generic.parse_body(generic_body), caller="bench", received_at=now,
                                 headers=app.request_class(generic_env).headers).trigger
        add("response rendering (status body, Location)", "/v1/triggers, /hooks/terraform", per_call_us(
            lambda: view_response(TriggerView(trigger, None), created=True, waited=True), n))
        add("body parsing: generic JSON", "/v1/triggers", per_call_us(lambda: generic.parse_body(generic_body), n))
        headers = app.request_class(generic_env).headers
        add("trigger record (intake)", "/v1/triggers", per_call_us(
            lambda: generic.intake(generic.parse_body(generic_body), caller="bench", received_at=now,
                                   headers=headers), n))
    bell = Doorbell(Path(tempfile.mkdtemp(prefix="bench-bell-")))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # a worker loop that never reads: the worst case
    listener.bind(str(bell.directory / "worker.sock"))
    add("doorbell ring (one datagram; once per group commit, not per trigger)", "all", per_call_us(bell.ring, n))
    listener.close()
    shutil.rmtree(bell.directory, ignore_errors=True)  # each bench run left its socket directory in /tmp

    def taken() -> None:
        connection = store.engine.raw_connection()
        try:
            connection.cursor().execute("SELECT id FROM triggers WHERE caller = ? AND dedupe_key = ?",
                                        ("bench", "no-such-key")).fetchone()
        finally:
            connection.close()

    add("idempotency lookup (dedupe key taken?)", "hooks with a dedupe key", per_call_us(taken, n))

    am_config = ctx.sources[alertmanager.SOURCE]
    am_body = am[1]
    notification = alertmanager.parse(am_body)
    add("body parsing: Alertmanager JSON", "/hooks/alertmanager", per_call_us(lambda: alertmanager.parse(am_body), n))
    labels = notification.alerts[0].labels
    add("matcher evaluation", "/hooks/alertmanager", per_call_us(lambda: matches_all(am_config.matchers, labels), n))
    add("cooldown lookup (read before the write)", "/hooks/alertmanager", per_call_us(
        lambda: service.recent_correlated("alertmanager", "am:none", now), n))
    fast, store._sqlite_batch = store._sqlite_batch, None  # the same lookup through Core, as before issue 17
    try:
        add("cooldown lookup through SQLAlchemy Core (before issue 17)", "/hooks/alertmanager", per_call_us(
            lambda: service.recent_correlated("alertmanager", "am:none", now), n))
    finally:
        store._sqlite_batch = fast
    add("Alertmanager decision (matchers, cooldown lookup, trigger record)", "/hooks/alertmanager", per_call_us(
        lambda: alertmanager.decide(notification, am_config, received_at=now,
                                    recent_correlated=service.recent_correlated,
                                    callback_policy=service.callback_policy), n))

    slack_config = ctx.sources[slack.SOURCE]
    slack_headers = dict(zip(payloads.SLACK.header_names, sl[0], strict=True))
    add("Slack signature check (slack_sdk SignatureVerifier)", "/hooks/slack", per_call_us(
        lambda: slack.verify_request(slack_config.signing_secret, sl[1], slack_headers, time.time()), n))
    add("body parsing: Slack form", "/hooks/slack", per_call_us(lambda: slack.parse_form(sl[1]), n))

    tf_config = ctx.sources["terraform"]
    tf_signature = tf[0][1]
    add("run task signature check (HMAC-SHA512)", "/hooks/terraform/run-task", per_call_us(
        lambda: terraform.verify_signature(tf_config.hmac_key, tf[1], tf_signature), n))
    add("body parsing: run task JSON", "/hooks/terraform/run-task", per_call_us(
        lambda: terraform.parse_run_task(tf[1]), n))
    return rows


def markdown(costs: dict[str, Any]) -> list[str]:
    totals = costs["totals_us"]
    floor = totals["durable floor"]
    lines = ["| way in (in-process, one thread, synchronous=OFF) | CPU µs/req | above the floor µs |",
             "|---|---:|---:|"]
    for name, us in totals.items():
        lines.append(f"| {name} | {us:,.0f} | {'' if name == 'durable floor' else f'{us - floor:,.0f}'} |")
    lines += ["", "| cost | where | µs per call | share of that endpoint's CPU |", "|---|---|---:|---:|"]
    for row in costs["costs"]:
        endpoint = row["share_of"]
        share = 100 * row["us"] / totals[endpoint]
        lines.append(f"| {row['cost']} | {row['endpoints']} | {row['us']:.1f} | {share:.0f} % of {endpoint} |")
    return lines


def main() -> int:
    results = run_costs()
    print("\n".join(markdown(results)))
    return 1 if any(results["errors"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
