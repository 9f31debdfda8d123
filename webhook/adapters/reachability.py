"""Whether each SDDC Manager of the fleet answers a TCP connect, for ``/readyz``'s body.

``/readyz`` is polled often and must stay fast whatever the fleet does, so it never waits on a
probe: it shows the last result, and a stale result (older than ``every`` seconds) is refreshed on
a background thread, every instance at once, each with a short connect timeout. Reachability is
reported, never a reason for "not ready": one unreachable instance must not take the service (and
the other instances' backups) out of a load balancer.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit


class ReachabilityProbe:
    def __init__(self, urls: Mapping[str, str], *, every: float = 15.0, timeout: float = 1.0) -> None:
        self.urls = dict(urls)
        self.every = every
        self.timeout = timeout
        self._last: dict[str, str] = {name: "not checked yet" for name in self.urls}
        self._at = 0.0
        self._running = False
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self._lock:
            if not self._running and time.monotonic() - self._at > self.every:
                self._running = True
                threading.Thread(target=self._refresh, name="reachability", daemon=True).start()
            return dict(self._last)

    def _refresh(self) -> None:
        found: dict[str, str] | None = None
        try:
            with ThreadPoolExecutor(max(1, min(32, len(self.urls)))) as pool:
                found = dict(zip(self.urls, pool.map(self._probe, self.urls.values()), strict=True))
        finally:
            with self._lock:
                if found is not None:
                    self._last = found
                self._at = time.monotonic()
                self._running = False

    def _probe(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.hostname:
            return "no URL configured"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        started = time.monotonic()
        try:
            with socket.create_connection((parts.hostname, port), timeout=self.timeout):
                return f"reachable ({(time.monotonic() - started) * 1000:.0f} ms)"
        except OSError as exc:
            return f"unreachable ({type(exc).__name__})"
