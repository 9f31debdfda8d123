"""``vcf-backup-webhook demo``: simulator + service + callback receiver on loopback, in one process."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .app import Services, build_store, build_worker, create_app
from .clients.trigger import TriggerClient
from .settings import Settings
from .simulator import SimulatorConfig, SimulatorServer


class CallbackReceiver:
    """Receives callbacks and checks their Standard Webhooks signature, as a user's endpoint would."""

    def __init__(self, secret: str, on_callback: Callable[[dict[str, Any], bool], None]) -> None:
        self.verifier = Webhook(secret)
        self.on_callback = on_callback
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/backup-done"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        try:
            self.verifier.verify(body, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            verified = False
        self.on_callback(json.loads(body or "{}"), verified)
        return Response("ok", status=200 if verified else 401)(environ, start_response)

    def start(self) -> CallbackReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self


def _serve(app: Any, port: int) -> BaseWSGIServer:
    try:
        return make_server("127.0.0.1", port, app, threaded=True)
    except OSError:
        return make_server("127.0.0.1", 0, app, threaded=True)  # the preferred port is taken


def _wait_for(done: Callable[[], bool], seconds: float | None) -> None:
    """Waits in short steps so that the main thread's signal handler runs promptly."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not done() and (deadline is None or time.monotonic() < deadline):
        time.sleep(0.1)


FLEET_PASSWORD_ENV = "VCFBACKUP_DEMO_SDDC_PASSWORD"


def write_fleet(workdir: Path, sims: list[SimulatorServer]) -> Path:
    """The demo's fleet file: ``site-1`` ... ``site-N``; the password stays in the environment."""
    lines = ["instances:"]
    for n, sim in enumerate(sims, 1):
        lines.append(f"  - {{name: site-{n}, url: '{sim.url}', username: admin@local, "
                     f"password_env: {FLEET_PASSWORD_ENV}, labels: {{site: site-{n}, env: demo}}}}")
    path = workdir / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_demo(*, port: int, backup_seconds: float, auto: bool, once: bool, echo: Callable[[str], None],
             instances: int = 1, stop_requested: threading.Event | None = None) -> int:
    """Runs until ``stop_requested`` is set (by the CLI's SIGINT/SIGTERM handler) or, with ``once``, the first
    callback. The signal only sets an event: raising from the handler could land anywhere in the setup, skip the
    cleanup below and leave the process waiting on a non-daemon thread."""
    stop_requested = stop_requested or threading.Event()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sim_config = SimulatorConfig(backup_seconds=backup_seconds)
    sim = SimulatorServer(sim_config).start()
    fleet_sims = [sim] + [SimulatorServer(SimulatorConfig(backup_seconds=backup_seconds)).start()
                          for _ in range(instances - 1)]
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    token = secrets.token_urlsafe(18)
    first_callback = threading.Event()

    def on_callback(body: dict[str, Any], verified: bool) -> None:
        echo(f"[callback] {body.get('type')} status={body.get('status')} trigger={body.get('trigger', {}).get('id')} "
             f"signature={'verified' if verified else 'INVALID'}")
        for result in body.get("results") or []:  # a fan-out: one result per instance
            echo(f"[callback]   {result.get('instance')}: {result.get('status')} (SDDC task {result.get('id')})")
        first_callback.set()

    receiver = CallbackReceiver(secret, on_callback).start()
    workdir = Path(tempfile.mkdtemp(prefix="vcf-backup-demo-"))
    fleet: dict[str, Any] = {"sddc_url": sim.url}
    if instances > 1:
        os.environ[FLEET_PASSWORD_ENV] = sim_config.password  # this process only: never in the file
        fleet = {"sddc_url": "", "sddc_managers_file": str(write_fleet(workdir, fleet_sims))}
    settings = Settings(
        sddc_username=sim_config.username, sddc_password=sim_config.password, **fleet,
        database_url=f"sqlite:///{workdir / 'demo.db'}", api_tokens={"demo": token},
        callback_allowed_hosts=[f"127.0.0.1:{receiver.port}"], callback_allow_http=True,
        callback_signing_secret=secret, poll_interval=1.0, poll_max_interval=2.0, log_level="WARNING",
        ui_secret=secrets.token_urlsafe(32),
    )
    wake, stop = threading.Event(), threading.Event()
    store = build_store(settings)
    services = Services(settings=settings, store=store, wake=wake.set)
    server = _serve(create_app(settings, services=services), port)
    url = f"http://127.0.0.1:{server.server_port}"
    worker = build_worker(settings, services.store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker_thread = threading.Thread(target=worker.run_forever, args=(stop, wake), daemon=True)
    worker_thread.start()
    ask: dict[str, Any] = {"reason": "demo", "callbackUrl": receiver.url}
    if instances > 1:
        ask["selector"] = {}  # every instance: one backup each, one callback with every result
    body = json.dumps(ask)
    echo(f"SDDC Manager simulator: {sim.url}  (backups take {backup_seconds:g} s)")
    for n, other in enumerate(fleet_sims[1:], 2):
        echo(f"SDDC Manager simulator: {other.url}  (site-{n})")
    if instances > 1:
        echo(f"fleet file:             {settings.sddc_managers_file}  (site-1 is {sim.url})")
    echo(f"vcf-backup-webhook:     {url}   store: {workdir / 'demo.db'}")
    echo(f"callback receiver:      {receiver.url}  (verifies the webhook-signature)\n")
    echo("Trigger a backup:")
    echo(f"  curl -s -X POST {url}/v1/triggers -H 'Authorization: Bearer {token}' "
         f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
    echo("Follow it (replace TRIGGER_ID; ?wait=60 blocks until it ends):")
    echo(f"  curl -s '{url}/v1/triggers/TRIGGER_ID?wait=60' -H 'Authorization: Bearer {token}'")
    echo("Count the backups SDDC Manager ran:")
    echo(f"  curl -s {sim.url}/sim/state")
    echo(f"Look at it (log in with the token above): {url}/ui/\n")
    echo("Terraform (README section \"Terraform\"): in the shell that runs terraform,")
    echo(f"  export VCFBACKUP_TRIGGER_URL={url} VCFBACKUP_TRIGGER_TOKEN={token}\n")
    fired: threading.Thread | None = None
    if auto:
        def fire() -> None:
            client = TriggerClient(url, token)
            outcome = client.run(json.loads(body), wait=True, timeout=120, progress=lambda m: echo(f"[trigger] {m}"))
            echo(f"[trigger] result: {outcome.message}")
        fired = threading.Thread(target=fire, daemon=True)
        fired.start()
    echo("Press Ctrl-C to stop.\n")
    try:
        if once:
            _wait_for(lambda: first_callback.is_set() or stop_requested.is_set(), 120)
            if fired is not None and not stop_requested.is_set():
                fired.join(10)
        else:
            _wait_for(stop_requested.is_set, None)
    finally:
        stop.set()
        wake.set()
        worker_thread.join(5)
        server.shutdown()
        receiver.server.shutdown()
        for each in fleet_sims:
            each.stop()
        store.engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)  # the demo's store: nothing is left behind
    return 0 if first_callback.is_set() or not once else 1
