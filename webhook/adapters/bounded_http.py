"""One outbound HTTP request with a bound on the whole of it: connect, send and the entire answer.

``requests`` only bounds each socket read, so a receiver that trickles its answer (a byte every few
seconds) could hold a callback thread for minutes and then count as delivered, and one that answers
with a huge body was read whole into memory. Here a watchdog shuts the socket down when the
deadline passes, whatever the request is blocked on, and at most ``max_body`` bytes are read.

Redirects are never followed. TLS verification uses the CA bundle ``requests`` would use
(``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's). Proxies are not used: callbacks go
straight to the receiver, which the allowlist names.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

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


def request(method: str, url: str, body: bytes, headers: dict[str, str], *, deadline: float,
            max_body: int = MAX_BODY) -> Answer:
    """Send and read the answer (its first ``max_body`` bytes) within ``deadline`` seconds, or raise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=deadline, context=_tls_context())
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=deadline)
    expired = threading.Event()

    def abort() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(deadline, abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(max_body)
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set():
            raise AttemptFailed(f"no complete answer within {deadline:g} s") from None
        raise AttemptFailed(f"{type(exc).__name__} while calling the receiver") from None
    finally:
        watchdog.cancel()
        conn.close()  # never drain the rest of a large answer
    if expired.is_set():
        raise AttemptFailed(f"no complete answer within {deadline:g} s")
    return answer
