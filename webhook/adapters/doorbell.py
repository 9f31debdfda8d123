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
from pathlib import Path


def doorbell_dir(database_url: str) -> Path:
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"vcf-backup-webhook-{digest}"


class Doorbell:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ring(self) -> None:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for name in names:
                with contextlib.suppress(OSError):
                    sock.sendto(b"!", str(self.directory / name))

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
            finally:
                sock.close()
                with contextlib.suppress(OSError):
                    path.unlink()

        thread = threading.Thread(target=loop, name=f"doorbell-{name}", daemon=True)
        thread.start()
        return thread
