"""gunicorn's threaded worker, but a request reaches a thread only once it has fully arrived.

The stock ``gthread`` worker hands a new connection to a thread at once, and the thread blocks
reading headers and body. Sixteen clients trickling their headers a byte at a time held all sixteen
threads: ``/healthz`` and every trigger timed out, without a single credential. Here the worker's
own event loop (the one that already waits on kept-alive connections) reads each request's headers,
and a body of known length, without blocking; only a complete request is handed to a thread. A
request that has not arrived within ``read_timeout`` seconds is dropped. Chunked bodies are handed
over after their headers (the body limit still applies to them, see ``web.inbound.raw_body``).

TLS terminated by gunicorn itself is left to the stock path (``serve`` never configures it: TLS is
terminated in front, see the README). Written against gunicorn 27's ``gthread``; the names that
differ in older releases are looked up both ways.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD = 64 * 1024  # larger heads go to gunicorn's parser, which refuses them with its own limits


@dataclass
class _Arriving:
    deadline: float
    data: bytearray = field(default_factory=bytearray)

    def complete(self, max_body: int) -> bool:
        """Headers in, and the body too when its length is known and within ``max_body``."""
        end = self.data.find(b"\r\n\r\n")
        if end < 0:
            return len(self.data) > MAX_HEAD
        length: int | None = None
        for line in bytes(self.data[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"transfer-encoding" or (name == b"expect" and b"100-continue" in value.lower()):
                return True  # chunked, or the client waits for "100 Continue": handed over after the headers
            if name == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return True  # gunicorn's parser answers it
        if length is None or length > max_body:
            return True  # no body, or one the application refuses by its length alone (413)
        return len(self.data) >= end + 4 + length


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` with header and body read deadlines that cost no thread."""

    read_timeout: float = 10.0
    max_body: int = 4 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._arriving: dict[TConn, _Arriving] = {}

    def accept(self, listener: Any) -> None:
        if self.cfg.is_ssl:
            super().accept(listener)
            return
        try:
            client, address = listener.accept()
        except BlockingIOError:
            return
        except OSError:
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking from here
        self._await_request(conn)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection sends its next request: let it arrive here too, not on a thread."""
        self.poller.unregister(client)
        kept = getattr(self, "keepalived_conns", None)  # gunicorn < 23 names it ``_keep``
        (kept if kept is not None else self._keep).remove(conn)
        self._await_request(conn, readable=True)

    def _await_request(self, conn: TConn, *, readable: bool = False) -> None:
        """Wait on the event loop for the request; a connection known to be readable is read at once."""
        self._arriving[conn] = _Arriving(time.monotonic() + self.read_timeout)
        if readable and self._read(conn):
            return
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, conn))

    def _on_bytes(self, conn: TConn, _sock: Any) -> None:
        if conn in self._arriving and self._read(conn):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)

    def _read(self, conn: TConn) -> bool:
        """Take what has arrived; True once the connection left the loop (handed to a thread, or dropped)."""
        arriving = self._arriving[conn]
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:  # the client went away before its request was complete
            self._drop(conn)
            return True
        arriving.data += data
        if not arriving.complete(self.max_body):
            return False
        del self._arriving[conn]
        conn.init()  # plain HTTP: only makes the socket blocking and builds the parser
        conn.parser.unreader.unread(bytes(arriving.data))
        conn.data_ready = True
        self.enqueue_req(conn)
        return True

    def _drop(self, conn: TConn) -> None:
        self._arriving.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        conn.close()

    def murder_keepalived(self, force: bool = False) -> None:
        """Also drop requests that did not arrive within ``read_timeout`` (all of them when stopping)."""
        if force:
            super().murder_keepalived(force)
        else:
            super().murder_keepalived()  # older gunicorn: no ``force`` parameter
        now = time.monotonic()
        for conn, arriving in list(self._arriving.items()):
            if force or arriving.deadline <= now:
                self._drop(conn)
