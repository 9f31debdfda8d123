"""A local HTTP server standing in for a user's callback endpoint (or Slack, or HCP Terraform)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every request; answers 200 unless told to fail the next N or to be down."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Condition()
        self._fail: list[tuple[int, dict[str, str]]] = []
        self.down_status: int | None = None
        self.answer_after = 0.0  # seconds to wait before answering each request
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"

    def url(self, path: str = "/callback") -> str:
        return self.base + path

    def fail_next(self, count: int, status: int = 503, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._fail.extend([(status, headers or {})] * count)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if self.answer_after:
            time.sleep(self.answer_after)
        with self._lock:
            if self.down_status is not None:
                return Response("down", status=self.down_status)(environ, start_response)
            if self._fail:
                status, headers = self._fail.pop(0)
                return Response("try later", status=status, headers=headers)(environ, start_response)
            self.received.append(Received(request.method, request.path, dict(request.headers), request.get_data()))
            self._lock.notify_all()
        return Response("ok", status=200)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.received)} in {timeout} s")
                self._lock.wait(remaining)
            return list(self.received)

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
