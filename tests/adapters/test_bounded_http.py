"""bounded_http's kept-alive connections, against raw loopback servers that count connections and requests."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from webhook.adapters import bounded_http


class CountingServer:
    """Answers each request 200 (keep-alive); ``close_after`` closes the connection after an answer
    without saying so; ``trickle_from`` answers that request (1-based) a byte every 0.2 s."""

    def __init__(self, *, close_after: bool = False, trickle_from: int | None = None,
                 answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}") -> None:
        self.answer = answer
        self.close_after = close_after
        self.trickle_from = trickle_from
        self.connections = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/cb"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += conn.recv(65536)
                buffer = rest[length:]
                with self.lock:
                    self.requests += 1
                    number = self.requests
                answer = self.answer
                try:
                    if self.trickle_from is not None and number >= self.trickle_from:
                        for byte in answer:
                            conn.sendall(bytes([byte]))
                            time.sleep(0.2)
                    else:
                        conn.sendall(answer)
                except OSError:
                    return
                if self.close_after:
                    return

    def stop(self) -> None:
        self.sock.close()


@pytest.fixture
def server_factory():
    made: list[CountingServer] = []

    def make(**kwargs: object) -> CountingServer:
        made.append(CountingServer(**kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for server in made:
        server.stop()


def post(url: str, deadline: float = 5.0) -> bounded_http.Answer:
    return bounded_http.request("POST", url, b"{}", {"Content-Type": "application/json"}, deadline=deadline)


def test_requests_to_one_host_reuse_a_kept_alive_connection(server_factory):
    server = server_factory()
    assert [post(server.url).status for _ in range(5)] == [200] * 5
    assert server.requests == 5 and server.connections == 1


def test_a_connection_the_receiver_closed_is_not_reused_and_nothing_is_sent_twice(server_factory):
    server = server_factory(close_after=True)
    for _ in range(4):
        assert post(server.url).status == 200
        time.sleep(0.05)  # the receiver's close has arrived: the quiet-socket check sees it
    assert server.requests == 4 and server.connections == 4


def test_the_deadline_still_bounds_a_trickled_answer_on_a_reused_connection(server_factory):
    server = server_factory(trickle_from=2)
    assert post(server.url).status == 200
    with pytest.raises(bounded_http.AttemptFailed, match="no complete answer within 0.5 s"):
        post(server.url, deadline=0.5)
    assert server.connections == 1 and server.requests == 2


def test_answer_headers_are_read_folded_lines_joined_and_a_stray_line_skipped(server_factory):
    server = server_factory(answer=(b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                                    b"X-Folded: first\r\n  second\r\nnot a header line\r\n"
                                    b"Retry-After: 120\r\nContent-Length: 8\r\n\r\n{\"a\": 1}"))
    answer = post(server.url)
    assert answer.status == 429 and answer.body == b'{"a": 1}'
    assert answer.headers["retry-after"] == "120" and answer.headers["x-folded"] == "first second"
    assert answer.headers["content-type"] == "application/json"
    assert post(server.url).status == 429 and server.connections == 1  # the whole answer was read: kept alive


def test_a_chunked_answer_is_read_whole_and_its_connection_kept(server_factory):
    server = server_factory(answer=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert [post(server.url).body for _ in range(3)] == [b"abcde"] * 3
    assert server.requests == 3 and server.connections == 1


def test_an_answer_that_says_connection_close_is_not_reused(server_factory):
    server = server_factory(answer=b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
                            close_after=True)
    assert [post(server.url).status for _ in range(3)] == [200] * 3
    assert server.connections == 3


def test_a_proxy_setting_changed_between_requests_is_seen_on_the_next_one(server_factory, monkeypatch):
    target, proxy = server_factory(), server_factory()
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert post(target.url).status == 200 and (target.requests, proxy.requests) == (1, 0)
    monkeypatch.setenv("http_proxy", proxy.url.rsplit("/", 1)[0])
    assert post(target.url).status == 200 and (target.requests, proxy.requests) == (1, 1)
    monkeypatch.delenv("http_proxy")
    assert post(target.url).status == 200 and (target.requests, proxy.requests) == (2, 1)
