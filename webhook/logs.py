"""One JSON object per log line: time, level, event, message and the ids that tie lines together.

Secrets cannot leak through here by construction: settings hold them as ``SecretStr`` and nothing
passes them to a logger.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO

from pydantic_core import to_json

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_ENCODER = json.JSONEncoder(default=str)  # one encoder, not one built per line as json.dumps(default=) does


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = (-1, "")  # the formatted time of the last second seen (most lines share it)

    def _time(self, created: float) -> str:
        second, text = self._second
        whole = int(created)
        if whole != second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int((created - whole) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key[0] != "_":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        try:
            # pydantic's serializer: a quarter of json's CPU for the audit line every request writes.
            return to_json(line, fallback=str).decode()
        except ValueError:  # text it will not write (a lone surrogate): json escapes it
            return _ENCODER.encode(line)


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A line, newline included, goes out in one ``write(2)``, and no lock is held around it.

    ``StreamHandler`` takes its lock, writes through the text and buffer layers, then flushes: on a
    busy node every request thread queues on that lock while one of them is in the kernel. A line
    below ``PIPE_BUF`` written at once to a pipe, or to a file opened for appending, is not split by
    the kernel, so concurrent lines cannot interleave. A stream without a file descriptor (a test's
    ``StringIO``) is written the ordinary way.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        try:
            self._fd: int | None = stream.fileno()
            stream.flush()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    def handle(self, record: logging.LogRecord) -> bool:
        if self._fd is None:
            return bool(super().handle(record))
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if self._fd is None:
            super().emit(record)
            return
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            while data:
                data = data[os.write(self._fd, data):]
        except Exception:
            self.handleError(record)


def has_level_handler(logger: logging.Logger) -> bool:
    """Whether a handler on ``logger`` or an ancestor it propagates to takes records at its level.

    Flask's test of the same name: if one does, the host (a WSGI server, an embedding app, a test
    runner) has chosen where log lines go, and this module leaves its handlers and formats alone.
    """
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        if not current.propagate:
            break
        current = current.parent
    return False


def configure_logging(level: str = "INFO") -> None:
    """Set the ``webhook`` logger's level; send its records as JSON lines to stderr unless something handles them."""
    logger = logging.getLogger("webhook")
    logger.setLevel(level.upper())
    if has_level_handler(logger):
        return
    # This process's logging is ours: our lines never show the thread or process name, so skip
    # collecting them on every record (the logging HOWTO's "Optimization" section).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LineHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
