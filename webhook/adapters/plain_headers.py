"""An ``http.client`` response whose header block is read without the ``email`` package.

Outbound callbacks (``bounded_http``) read one answer each; in a storm of results the stock
parser was about a tenth of a callback's CPU.
"""

from __future__ import annotations

import http.client
from typing import Any

_MAX_HEADER_LINE = 65536  # http.client's limits on one header line and on their number
_MAX_HEADERS = 100


class PlainHeadersResponse(http.client.HTTPResponse):
    """``http.client``'s response, its header block read without the ``email`` package.

    The stock ``begin`` hands the headers to the email FeedParser, about a tenth of a callback's CPU
    in a storm of results. Here they are split by hand (folded lines joined, lines without a colon
    ignored) into the same ``HTTPMessage``; the status line, the limits and what ``begin`` derives
    from the headers (chunked, length, keep-alive) follow the standard library's code.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            _header_lines(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _message(_header_lines(self.fp))
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


def _header_lines(fp: Any) -> list[str]:
    lines: list[str] = []
    while True:
        line = fp.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return lines
        lines.append(line.decode("iso-8859-1"))
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _message(lines: list[str]) -> http.client.HTTPMessage:
    fields: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and fields:  # an obsolete folded continuation of the previous field
            fields[-1][1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip() == name and name:
            fields.append([name, value.strip()])
    message = http.client.HTTPMessage()
    for name, value in fields:
        message[name] = value
    return message
