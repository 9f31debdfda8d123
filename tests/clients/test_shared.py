"""The clients' own copies of what the service also knows agree with the service."""

from __future__ import annotations

import pytest

from webhook.clients.http import (
    ELEMENT_TYPES,
    MIN_POLL_SECONDS,
    ClientEnvironment,
    parse_duration,
    pause_after_early_answer,
)
from webhook.core.durations import parse_duration as service_parse_duration
from webhook.core.validation import KNOWN_RESOURCE_TYPES


@pytest.mark.parametrize("text", ["90", "1.5", "90s", "15m", "1h30m", "2d", "250ms", " 1h 30m ", "0"])
def test_durations_parse_like_the_service(text):
    assert parse_duration(text) == service_parse_duration(text)


@pytest.mark.parametrize("text", ["soon", "-5m", "15x", "m", "", "1h soon"])
def test_bad_durations_are_refused_like_the_service(text):
    with pytest.raises(ValueError):
        parse_duration(text)
    with pytest.raises(ValueError):
        service_parse_duration(text)


def test_element_types_are_the_services():
    assert set(ELEMENT_TYPES) == KNOWN_RESOURCE_TYPES


def test_empty_environment_values_count_as_unset():
    env = ClientEnvironment.read({"VCFBACKUP_TRIGGER_URL": "", "VCFBACKUP_TRIGGER_TOKEN": "t"})
    assert env == ClientEnvironment(url=None, token="t", ca_bundle=None)


def test_clients_load_no_server_code():
    """Clients speak HTTP to the service: loading them (the provider included) loads none of its code."""
    import subprocess
    import sys

    code = ("import sys, webhook.clients.trigger, webhook.clients.external_status, "
            "webhook.clients.terraform_provider.provider, webhook.clients.terraform_provider.install; "
            "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('webhook'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    modules = loaded.stdout.split()
    assert "webhook.clients.terraform_provider.backup" in modules
    server = [m for m in modules if m.startswith(("webhook.core", "webhook.adapters", "webhook.web",
                                                  "webhook.settings", "webhook.app", "webhook.sources"))]
    assert server == []


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(("answered_after", "deadline", "slept"), [
    (0.01, 200.0, [MIN_POLL_SECONDS - 0.01]),  # not held: wait out the rest of the second
    (MIN_POLL_SECONDS, 200.0, []),  # held for its wait: ask again at once
    (0.5, 100.7, [0.2]),  # never past the caller's deadline
    (0.5, 100.4, []),
])
def test_a_wait_answered_early_is_paced_to_one_ask_a_second(answered_after, deadline, slept):
    clock = _Clock(100.0 + answered_after)
    pause_after_early_answer(100.0, deadline, clock=clock, sleep=clock.sleep)
    assert clock.slept == pytest.approx(slept)
