"""One outbound HTTP request with a bound on the whole of it: connect, send and the entire answer.

``requests`` only bounds each socket read, so a receiver that trickles its answer (a byte every few
seconds) could hold a callback thread for minutes and then count as delivered, and one that answers
with a huge body was read whole into memory. Here a watchdog shuts the socket down when the
deadline passes, whatever the request is blocked on, and at most ``max_body`` bytes are read.

Redirects are never followed. TLS verification uses the CA bundle ``requests`` would use
(``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's). Proxies come from the standard
environment variables (``https_proxy``, ``http_proxy``, ``no_proxy``), as ``requests`` and urllib
take them; https goes through the proxy as a CONNECT tunnel, so TLS is still end to end.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import unquote, urlsplit

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


def _proxy(scheme: str, host: str) -> tuple[str, int, dict[str, str]] | None:
    """The proxy the environment names for this URL (host, port, its auth header), or None."""
    url = urllib.request.getproxies().get(scheme)
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    auth: dict[str, str] = {}
    if parts.username:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        auth["Proxy-Authorization"] = f"Basic {token}"
    return parts.hostname or "", parts.port or 80, auth


def _connection(url: str, deadline: float) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for ``url`` (direct, or through the environment's proxy), the request target, extra headers."""
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = _proxy(parts.scheme, host)
    if proxy is None:
        if https:
            return http.client.HTTPSConnection(host, port, timeout=deadline, context=_tls_context()), target, {}
        return http.client.HTTPConnection(host, port, timeout=deadline), target, {}
    proxy_host, proxy_port, auth = proxy
    if https:
        tunnel = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=deadline, context=_tls_context())
        tunnel.set_tunnel(host, port, headers=auth)
        return tunnel, target, {}
    absolute = f"http://{host}:{port}{target}"
    return http.client.HTTPConnection(proxy_host, proxy_port, timeout=deadline), absolute, auth


def request(method: str, url: str, body: bytes, headers: dict[str, str], *, deadline: float,
            max_body: int = MAX_BODY) -> Answer:
    """Send and read the answer (its first ``max_body`` bytes) within ``deadline`` seconds, or raise."""
    conn, target, extra = _connection(url, deadline)
    headers = {**headers, **extra}
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
