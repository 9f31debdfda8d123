"""Callback endpoints that misbehave on purpose: one that holds its answer, one that trickles it, one
that answers with an endless body. Raw sockets on loopback; every loop is bounded and stops itself."""

from __future__ import annotations

import socket
import threading
import time


class BadReceiver:
    """Accepts connections on an ephemeral loopback port and answers each per ``mode``.

    ``hold``: read the request, then answer 200 only once ``release`` is set (or after ``max_seconds``).
    ``trickle``: answer 200 one byte every ``interval`` seconds (a whole answer takes about 15 s at 0.3 s).
    ``huge``: answer 200 with a chunked body of up to ``max_bytes``, counting what the client took.
    """

    def __init__(self, mode: str, *, interval: float = 0.3, max_seconds: float = 90.0,
                 max_bytes: int = 64 * 1024 * 1024) -> None:
        self.mode = mode
        self.interval = interval
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.release = threading.Event()
        self.requests = 0
        self.bytes_sent = 0
        self.got_request = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self._stop = threading.Event()

    def url(self, path: str = "/callback") -> str:
        return f"http://{self.host}{path}"

    def start(self) -> BadReceiver:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.release.set()
        self._sock.close()

    def _accept(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                _read_request(conn)
                self.requests += 1
                self.got_request.set()
                getattr(self, "_" + self.mode)(conn)
            except OSError:
                pass

    def _hold(self, conn: socket.socket) -> None:
        self.release.wait(self.max_seconds)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def _trickle(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        for byte in answer:
            if self._stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(self.interval)

    def _huge(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunk = b"x" * 65536
        framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        while self.bytes_sent < self.max_bytes and not self._stop.is_set():
            conn.sendall(framed)
            self.bytes_sent += len(chunk)
        conn.sendall(b"0\r\n\r\n")


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            return data
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        part = conn.recv(65536)
        if not part:
            break
        body += part
    return head + b"\r\n\r\n" + body
