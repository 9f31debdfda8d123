"""A lean callback receiver (generic webhook, Slack response_url, run-task PATCH) that records arrivals.

Each trigger of a storm gets its own callback path, so the receiver can tell, per trigger, how many
final results arrived (0 = lost, 2+ = duplicated) without trusting the sender's bookkeeping.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time() when the request was read
    method: str
    path: str
    body: bytes

    def is_final(self) -> bool:
        """False for the "started" messages (webhook type, Slack text, run-task status "running")."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return True
        if not isinstance(doc, dict):
            return True
        if doc.get("type") == "backup.started":
            return False
        if str(doc.get("text", "")).startswith("Backup started"):
            return False
        attributes = (doc.get("data") or {}).get("attributes") if isinstance(doc.get("data"), dict) else None
        return not (isinstance(attributes, dict) and attributes.get("status") == "running")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else a split answer waits for the sender's delayed ACK (40 ms)
    server: _Server

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner.add(Arrival(time.time(), self.command, self.path, body))
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    do_POST = do_PATCH = do_PUT = _record

    def log_message(self, *_: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Receiver


class Receiver:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"

    def add(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()

    def start(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
