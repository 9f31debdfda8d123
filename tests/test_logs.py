"""configure_logging leaves a host's own handlers alone, and installs JSON lines only where nothing handles them."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from webhook.logs import JsonFormatter, LineHandler, configure_logging, has_level_handler


@pytest.fixture
def webhook_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("webhook")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_a_host_handler_is_left_alone(webhook_logger: logging.Logger):
    webhook_logger.handlers[:] = []
    host = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(host)
    try:
        assert has_level_handler(webhook_logger)
        configure_logging("WARNING")
        assert webhook_logger.handlers == [] and webhook_logger.propagate
        assert webhook_logger.level == logging.WARNING
        assert host.formatter is None
    finally:
        root.removeHandler(host)


def test_a_handler_above_the_level_does_not_count(webhook_logger: logging.Logger):
    webhook_logger.handlers[:] = [logging.NullHandler(logging.ERROR)]
    webhook_logger.propagate = False
    webhook_logger.setLevel(logging.INFO)
    assert not has_level_handler(webhook_logger)


def test_without_a_host_handler_lines_are_json_once():
    script = ("import logging; from webhook.logs import configure_logging\n"
              "configure_logging('INFO'); configure_logging('INFO')\n"
              "logging.getLogger('webhook.x').info('hello', extra={'event': 'x.hello'})\n"
              "print(logging._srcfile is not None)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    [line] = done.stderr.splitlines()
    assert json.loads(line)["event"] == "x.hello"
    assert done.stdout.strip() == "True"  # logging's private switches are left as they are


def _record(n: int) -> logging.LogRecord:
    record = logging.LogRecord("webhook.t", logging.INFO, __file__, 1, "line %d", (n,), None)
    record.event = "t.line"
    record.n = n
    return record


def test_lines_from_many_threads_reach_a_file_whole(tmp_path):
    path = tmp_path / "log"
    with path.open("a") as stream:
        handler = LineHandler(stream)
        handler.setFormatter(JsonFormatter())

        def write(first: int) -> None:
            for n in range(first, first + 200):
                handler.handle(_record(n))

        threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(line["n"] for line in lines) == sorted(k * 1000 + i for k in range(8) for i in range(200))
    assert lines[0]["message"].startswith("line ") and lines[0]["time"].endswith("Z")


def test_a_stream_without_a_file_descriptor_is_written_the_ordinary_way():
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.handle(_record(1))
    assert json.loads(stream.getvalue())["n"] == 1


def test_times_keep_their_milliseconds_across_seconds():
    formatter = JsonFormatter()
    first, second = _record(1), _record(2)
    first.created, second.created = 1764500000.25, 1764500001.5
    assert json.loads(formatter.format(first))["time"] == "2025-11-30T10:53:20.250Z"
    assert json.loads(formatter.format(second))["time"] == "2025-11-30T10:53:21.500Z"


def test_values_json_cannot_hold_as_such_are_still_written():
    record = _record(3)
    record.when = datetime(2026, 11, 30, tzinfo=UTC)  # written as its str()
    record.text = "caf\u00e9 \udc80"  # a lone surrogate, from a decoded "\\udc80" escape
    line = json.loads(JsonFormatter().format(record))
    assert line["when"] == "2026-11-30 00:00:00+00:00"
    assert line["text"] == "caf\u00e9 \udc80" and line["n"] == 3
