"""Clients that hold a server's connections without ever finishing a request: they trickle their
request headers a byte at a time. One thread drives all sockets; the loop is bounded and stops itself."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Tricklers:
    def __init__(self, host: str, port: int, count: int = 200, *, seconds: float = 8.0,
                 interval: float = 0.5) -> None:
        self.address = (host, port)
        self.count = count
        self.seconds = seconds
        self.interval = interval
        self.connected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tricklers:
        self._thread.start()
        deadline = time.monotonic() + 10
        while self.connected < self.count and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        head = b"POST /v1/triggers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 400
        socks: list[socket.socket] = []
        try:
            for _ in range(self.count):
                try:
                    socks.append(socket.create_connection(self.address, timeout=2))
                    self.connected += 1
                except OSError:
                    break
            end = time.monotonic() + self.seconds
            position = 0
            while time.monotonic() < end and not self._stop.is_set() and position < len(head):
                for sock in socks:
                    with contextlib.suppress(OSError):
                        sock.send(head[position:position + 1])
                position += 1
                self._stop.wait(self.interval)
        finally:
            for sock in socks:
                sock.close()
