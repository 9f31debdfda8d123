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


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the ``webhook`` logger unless the host already configured one."""
    # Our lines never show the caller's file, thread or process name: skip collecting them on every
    # record (the logging HOWTO's "Optimization" section). It was a fifth of a trigger's CPU.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger("webhook")
    logger.setLevel(level.upper())
    if not any(getattr(h, "_vcfbackup", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._vcfbackup = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
