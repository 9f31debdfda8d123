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
    final: bool = True  # False for a "started" message; worked out once, when it arrives

    @classmethod
    def read(cls, at: float, method: str, path: str, body: bytes) -> Arrival:
        return cls(at, method, path, body, _is_final(body))

    def is_final(self) -> bool:
        return self.final


def _is_final(body: bytes) -> bool:
    """False for the "started" messages (webhook type, Slack text, run-task status "running")."""
    try:
        doc = json.loads(body)
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
        self.server.owner.add(Arrival.read(time.time(), self.command, self.path, body))
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
        self._final_paths: set[str] = set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"

    def add(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)
            if arrival.final:
                self._final_paths.add(arrival.path)

    def final_paths(self) -> int:
        """How many callback paths have had a final result: cheap to poll while thousands arrive.

        (Re-reading every arrival on each poll held the bench process's GIL for ~70 ms at 15,000
        arrivals, stalling the receiver's own threads and so the very deliveries being timed.)
        """
        with self._lock:
            return len(self._final_paths)

    def started_under(self, prefix: str) -> int:
        """How many "started" messages (not final) arrived on paths under ``prefix``."""
        with self._lock:
            arrivals = list(self.arrivals)
        return sum(1 for a in arrivals if not a.final and a.path.startswith(prefix))

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()
            self._final_paths.clear()

    def start(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
