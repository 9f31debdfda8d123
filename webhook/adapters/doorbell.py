"""Wakes worker loops the moment a trigger is stored, across processes on one host.

Each worker loop binds a Unix datagram socket in a shared directory; the web side sends one byte
to every socket there after committing a trigger. Losing a ring costs only latency: workers also
wake on their own at the next due time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def doorbell_dir(database_url: str) -> Path:
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"vcf-backup-webhook-{digest}"


DRAIN_AFTER = 0.01  # seconds between taking a ring and taking the ones that came meanwhile


def _drain(sock: socket.socket) -> int:
    """Read every ring already waiting, without blocking; how many there were."""
    count = 0
    sock.settimeout(0.0)
    try:
        while True:
            sock.recv(16)
            count += 1
    except OSError:  # BlockingIOError: none left
        return count
    finally:
        sock.settimeout(0.5)


class Doorbell:
    def __init__(self, directory: Path, *, refresh_seconds: float = 1.0) -> None:
        self.directory = directory
        self.refresh_seconds = refresh_seconds
        self._socket: socket.socket | None = None
        self._pid = 0
        self._targets: list[str] = []
        self._listed_at = float("-inf")

    def ring(self) -> None:
        """One datagram to each worker loop's socket; the list of sockets is re-read once a second."""
        now = time.monotonic()
        if now - self._listed_at > self.refresh_seconds:
            try:
                self._targets = [str(self.directory / name) for name in os.listdir(self.directory)]
            except OSError:
                self._targets = []
            self._listed_at = now
        if self._socket is None or self._pid != os.getpid():  # not shared across a fork
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            self._pid = os.getpid()
        for target in self._targets:
            with contextlib.suppress(OSError):
                self._socket.sendto(b"!", target)

    def coalesced(self, commits: Callable[[], int]) -> Callable[[], None]:
        """``ring``, once per commit of many triggers instead of once per trigger.

        ``commits`` counts the writer's commits; a caller reads it after its own commit, so its rows
        are in commit ``seen`` or an earlier one. A ring decided after reading ``seen`` reaches the
        worker after all of them: later callers that saw no newer commit need not ring again. The
        request threads of one group commit then send one datagram, and the worker loop wakes once.
        """
        rung = [-1]  # the newest commit a ring has been decided for

        def ring() -> None:
            seen = commits()
            if seen <= rung[0]:
                return
            rung[0] = max(rung[0], seen)  # a race only ever lowers it: one ring too many, never one too few
            self.ring()

        return ring

    def listen(self, name: str, wake: threading.Event, stop: threading.Event) -> threading.Thread:
        """Bind ``<dir>/<name>.sock`` and set ``wake`` on every ring until ``stop``."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{name}.sock"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.5)

        def loop() -> None:
            try:
                while not stop.is_set():
                    try:
                        sock.recv(16)
                    except TimeoutError:
                        continue
                    except OSError:
                        return
                    wake.set()
                    # Under a storm a ring comes with every trigger: let them pile up for a moment and
                    # take them in one go, instead of a thread wake-up each. Each is rung after its
                    # commit, so setting ``wake`` again after the drain loses none.
                    stop.wait(DRAIN_AFTER)
                    if _drain(sock):
                        wake.set()
            finally:
                sock.close()
                with contextlib.suppress(OSError):
                    path.unlink()

        thread = threading.Thread(target=loop, name=f"doorbell-{name}", daemon=True)
        thread.start()
        return thread
