"""Run the simulator over real HTTP: in a background thread or in the foreground.

Tests start a `SimulatorServer` on an ephemeral port so our client talks to it
through real sockets; `serve_forever` backs the `simulator` CLI command.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from webhook.simulator.app import STATE_KEY, create_simulator_app
from webhook.simulator.config import SimulatorConfig
from webhook.simulator.state import SimulatorState

_POLL_SECONDS = 0.02


class _QuietHandler(WSGIRequestHandler):
    """Request handler that keeps test output clean (no access log lines)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Skip the per-request access log."""


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class SimulatorServer:
    """A simulator on a threaded werkzeug server in a daemon thread.

    Example:
        with SimulatorServer(SimulatorConfig(backup_seconds=0.3)) as sim:
            requests.post(sim.url + "/v1/tokens", json={...})
            assert sim.state.backups_started == 0
    """

    def __init__(self, config: SimulatorConfig | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        """Build the app now; bind the socket only on start() (port 0 = ephemeral)."""
        self.app = create_simulator_app(config)
        self.state: SimulatorState = self.app.extensions[STATE_KEY]
        self.host = host
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorServer:
        """Bind and serve in a daemon thread; returns self for chaining."""
        if self._server is not None:
            return self
        self._server = make_server(self.host, self._requested_port, self.app,
                                   threaded=True, request_handler=_QuietHandler)
        # A short poll interval makes stop() take milliseconds instead of 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(_POLL_SECONDS,),
                                        name=f"sddc-simulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was requested)."""
        if self._server is None:
            raise RuntimeError("SimulatorServer is not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """Base URL such as "http://127.0.0.1:54321" (no trailing slash)."""
        return _url(self.host, self.port)

    def stop(self) -> None:
        """Stop accepting requests and close the socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        """Start on entry so `with SimulatorServer() as sim:` is ready to use."""
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop on exit, even when the block failed."""
        self.stop()


def serve_forever(config: SimulatorConfig | None, host: str, port: int) -> None:
    """Serve in the foreground until interrupted (the `simulator` CLI command)."""
    config = config or SimulatorConfig()
    app = create_simulator_app(config)
    server = make_server(host, port, app, threaded=True)
    print(f"SDDC Manager simulator listening on {_url(host, int(server.server_port))} "
          f"(user {config.username})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_many(config: SimulatorConfig | None, host: str, port: int, instances: int) -> None:
    """N independent simulators on consecutive ports (each its own tasks, tokens and faults), until interrupted.

    Prints a fleet file for ``VCFBACKUP_SDDC_MANAGERS_FILE`` naming them ``sim-1`` ... ``sim-N`` (the
    password stays out of it: ``password_env`` names the variable to set).
    """
    config = config or SimulatorConfig()
    servers = [SimulatorServer(replace(config), host, port + n if port else 0) for n in range(instances)]
    try:
        for server in servers:
            server.start()
        print(f"{instances} SDDC Manager simulators listening (user {config.username}); fleet file:", flush=True)
        print("instances:", flush=True)
        for n, server in enumerate(servers, 1):
            print(f"  - {{name: sim-{n}, url: '{server.url}', username: '{config.username}', "
                  f"password_env: SDDC_SIM_PASSWORD, labels: {{site: site-{n}}}}}", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
