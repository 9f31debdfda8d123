"""A service node for flow tests: the real Flask app over real HTTP on an ephemeral port, plus
worker loops, in threads (``InProcessNode``) or as a real ``serve`` process (``ServeProcess``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from webhook.app import Services, build_store, build_worker, create_app
from webhook.settings import Settings

from tests.support.processes import wait_ready


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class InProcessNode:
    def __init__(self, settings: Settings, *, workers: int = 1, start_workers: bool = True) -> None:
        self.settings = settings
        self.wake = threading.Event()
        self.services = Services(settings=settings, store=build_store(settings), wake=self.wake.set)
        self.app = create_app(settings, services=self.services)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.stop_event = threading.Event()
        self.workers = [build_worker(settings, self.services.store) for _ in range(workers)]
        self._threads: list[threading.Thread] = []
        self._start_workers = start_workers

    @property
    def store(self) -> Any:
        return self.services.store

    def start(self) -> InProcessNode:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        if self._start_workers:
            self.start_workers()
        return self

    def start_workers(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(target=worker.run_forever, args=(self.stop_event, self.wake), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(10)
        self.server.shutdown()
        self.server.server_close()
        self.services.store.engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_environment(database: Path, simulator_url: str, callback_host: str, api_token: str,
                      signing_secret: str) -> dict[str, str]:
    """The environment of a ``serve`` node wired to a simulator and a callback receiver on loopback."""
    return {
        "VCFBACKUP_SDDC_URL": simulator_url,
        "VCFBACKUP_SDDC_USERNAME": "admin@local",
        "VCFBACKUP_SDDC_PASSWORD": "VMware123!VMware123!",
        "VCFBACKUP_DATABASE_URL": f"sqlite:///{database}",
        "VCFBACKUP_API_TOKENS": f"ci:{api_token}",
        "VCFBACKUP_CALLBACK_ALLOWED_HOSTS": callback_host,
        "VCFBACKUP_CALLBACK_ALLOW_HTTP": "true",
        "VCFBACKUP_CALLBACK_SIGNING_SECRET": signing_secret,
        "VCFBACKUP_POLL_INTERVAL": "0.3",
        "VCFBACKUP_POLL_MAX_INTERVAL": "0.5",
        "VCFBACKUP_WORKER_LEASE": "2s",
        "VCFBACKUP_LOG_LEVEL": "DEBUG",
    }


class ServeProcess:
    """``python -m webhook serve`` as its own process group, so a test can kill -9 all of it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "VCFBACKUP_HOST": "127.0.0.1", "VCFBACKUP_PORT": str(self.port)}
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="serve-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self, timeout: float = 30.0) -> ServeProcess:
        self.proc = subprocess.Popen([sys.executable, "-m", "webhook", "serve"], env=self.env,
                                     start_new_session=True, stdout=self.log, stderr=subprocess.STDOUT)
        state = wait_ready(self.proc, self.url + "/readyz", timeout, poll=0.1)
        if state == "ready":
            return self
        if state == "exited":
            raise AssertionError(f"serve exited: {self.output()[-2000:]}")
        self.kill()
        raise AssertionError("serve did not become ready")

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        self.log.close()


def delivered_view(node: Any, auth: dict[str, str], trigger_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The trigger once its delivery is recorded (the receiver sees the POST a moment before that)."""
    deadline = time.monotonic() + timeout
    while True:
        view = requests.get(f"{node.url}/v1/triggers/{trigger_id}", headers=auth).json()
        if view["deliveries"] and view["deliveries"][0]["state"] != "PENDING" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)
