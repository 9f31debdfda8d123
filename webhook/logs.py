"""One JSON object per log line: time, level, event, message and the ids that tie lines together.

Secrets cannot leak through here by construction: settings hold them as ``SecretStr`` and nothing
passes them to a logger.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
