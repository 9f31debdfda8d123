"""One outbound HTTP request with a bound on the whole of it: connect, send and the entire answer.

``requests`` only bounds each socket read, so a receiver that trickles its answer (a byte every few
seconds) could hold a callback thread for minutes and then count as delivered, and one that answers
with a huge body was read whole into memory. Here a watchdog shuts the socket down when the
deadline passes, whatever the request is blocked on, and at most ``max_body`` bytes are read.

A connection whose answer was read whole is kept alive for the next request to the same host
(briefly, and only while the receiver has not closed it), so a storm of callbacks to one receiver
pays one handshake, not one per callback; the deadline and the read bound hold on a reused one too.

Redirects are never followed. TLS verification uses the CA bundle ``requests`` would use
(``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's). Proxies come from the standard
environment variables (``https_proxy``, ``http_proxy``, ``no_proxy``), as ``requests`` and urllib
take them; https goes through the proxy as a CONNECT tunnel, so TLS is still end to end.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import http.client
import os
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from .plain_headers import PlainHeadersResponse

MAX_BODY = 64 * 1024


class AttemptFailed(Exception):
    """The request did not get a complete answer; the message never contains the URL or headers."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@cache
def _tls_context() -> ssl.SSLContext:
    import certifi

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    return ssl.create_default_context(cafile=bundle)


# The variables urllib reads for a proxy (it lowercases names, so these spellings are what people set).
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                    "REQUEST_METHOD")


def _proxy(scheme: str, host: str) -> tuple[str, int, dict[str, str]] | None:
    """The proxy the environment names for this URL (host, port, its auth header), or None.

    Worked out once per URL host and proxy settings: urllib scans the whole environment twice per
    call, a measurable share of a callback. A changed variable is seen on the next request.
    """
    return _proxy_for(scheme, host, tuple(os.environ.get(name) for name in _PROXY_VARIABLES))


@lru_cache(maxsize=256)
def _proxy_for(scheme: str, host: str, _settings: tuple[str | None, ...]) -> tuple[str, int, dict[str, str]] | None:
    url = urllib.request.getproxies().get(scheme)
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    auth: dict[str, str] = {}
    if parts.username:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        auth["Proxy-Authorization"] = f"Basic {token}"
    return parts.hostname or "", parts.port or 80, auth


Proxy = tuple[str, int, dict[str, str]] | None


def _connection(url: str, deadline: float, proxy: Proxy) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for ``url`` (direct, or through ``proxy``), the request target, extra headers."""
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra: dict[str, str] = {}
    conn: http.client.HTTPConnection
    if proxy is None:
        conn = (http.client.HTTPSConnection(host, port, timeout=deadline, context=_tls_context()) if https
                else http.client.HTTPConnection(host, port, timeout=deadline))
    else:
        proxy_host, proxy_port, auth = proxy
        if https:
            conn = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=deadline, context=_tls_context())
            conn.set_tunnel(host, port, headers=auth)
        else:
            conn = http.client.HTTPConnection(proxy_host, proxy_port, timeout=deadline)
            target, extra = f"http://{host}:{port}{target}", auth
    conn.response_class = PlainHeadersResponse
    return conn, target, extra


class _Watchdog:
    """One thread that runs every request's deadline action: a ``threading.Timer`` each was a thread
    started (and torn down) per callback."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[list[Any]] = []  # [at, seq, action or None once disarmed]
        self._seq = 0
        self._pid = 0

    def arm(self, seconds: float, action: Callable[[], None]) -> list[Any]:
        with self._cond:
            if self._pid != os.getpid():  # first use, or a forked child: its parent's thread is not here
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="http-deadlines", daemon=True).start()
            self._seq += 1
            entry = [time.monotonic() + seconds, self._seq, action]
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cond.notify()
            return entry

    def disarm(self, entry: list[Any]) -> None:
        entry[2] = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2] is None:
                    if self._heap:
                        heapq.heappop(self._heap)
                    else:
                        self._cond.wait()
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                action = heapq.heappop(self._heap)[2]
            with contextlib.suppress(Exception):
                action()


_WATCHDOG = _Watchdog()

# Keep-alive: a connection whose answer was read whole goes back here for the next request to the
# same host (through the same proxy), so a storm of callbacks to one receiver does not pay a TCP
# (and TLS) handshake each. Only a connection used in the last IDLE_REUSE seconds and still quiet
# (the receiver has not closed it) is taken again; at most IDLE_PER_HOST wait per host.
IDLE_REUSE = 2.0
IDLE_PER_HOST = 2
_idle: dict[tuple[str, ...], list[tuple[http.client.HTTPConnection, float]]] = {}
_idle_lock = threading.Lock()


def _pool_key(url: str, proxy: Proxy) -> tuple[str, ...]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), str(parts.port or ""), repr(proxy)


def _reusable(key: tuple[str, ...]) -> http.client.HTTPConnection | None:
    with _idle_lock:
        waiting = _idle.get(key, [])
        while waiting:
            conn, since = waiting.pop()
            sock = conn.sock
            if sock is not None and time.monotonic() - since < IDLE_REUSE and not _dropped(sock):
                return conn
            conn.close()
    return None


def _dropped(sock: socket.socket) -> bool:
    """A quiet keep-alive socket has nothing to read; EOF or stray bytes mean it cannot be reused."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _keep(key: tuple[str, ...], conn: http.client.HTTPConnection) -> None:
    with _idle_lock:
        waiting = _idle.setdefault(key, [])
        if len(waiting) < IDLE_PER_HOST:
            waiting.append((conn, time.monotonic()))
            return
    conn.close()


def request(method: str, url: str, body: bytes, headers: dict[str, str], *, deadline: float,
            max_body: int = MAX_BODY) -> Answer:
    """Send and read the answer (its first ``max_body`` bytes) within ``deadline`` seconds, or raise.

    A kept-alive connection the receiver closed just as it was taken fails before any answer: the
    request then goes once more on a new connection, within the same deadline.
    """
    parts = urlsplit(url)
    proxy = _proxy(parts.scheme, parts.hostname or "")  # read from the environment once per request
    key = _pool_key(url, proxy)
    ends = time.monotonic() + deadline
    reused = _reusable(key)
    if reused is not None:
        try:
            return _send(reused, method, url, body, headers, deadline, max_body, key, proxy, reused=True)
        except _Stale:
            pass
    return _send(None, method, url, body, headers, max(0.001, ends - time.monotonic()), max_body, key, proxy)


class _Stale(Exception):
    """A reused connection failed before any answer came back."""


def _send(conn: http.client.HTTPConnection | None, method: str, url: str, body: bytes, headers: dict[str, str],
          deadline: float, max_body: int, key: tuple[str, ...], proxy: Proxy, *, reused: bool = False) -> Answer:
    fresh, target, extra = _connection(url, deadline, proxy)  # a reused one needs the same target and headers
    if conn is None:
        conn = fresh
    elif conn.sock is not None:
        conn.sock.settimeout(deadline)
    headers = {**headers, **extra}
    expired = threading.Event()

    def abort() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = _WATCHDOG.arm(deadline, abort)
    keep = False
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(max_body)
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        keep = response.isclosed() and not response.will_close  # read whole, and the receiver keeps it open
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            raise AttemptFailed(f"no complete answer within {deadline:g} s") from None
        if reused and isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                                       ConnectionAbortedError)):
            raise _Stale from None
        raise AttemptFailed(f"{type(exc).__name__} while calling the receiver") from None
    finally:
        _WATCHDOG.disarm(watchdog)
        if keep and not expired.is_set():
            _keep(key, conn)
        else:
            conn.close()  # never drain the rest of a large answer
    if expired.is_set():
        raise AttemptFailed(f"no complete answer within {deadline:g} s")
    return answer
