"""configure_logging leaves a host's own handlers alone, and installs JSON lines only where nothing handles them."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from webhook.logs import configure_logging, has_level_handler


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
