"""Waiting for a server process the tests started: ready, exited, or out of time."""

from __future__ import annotations

import subprocess
import time

import requests


def wait_ready(proc: subprocess.Popen[bytes], url: str, timeout: float, poll: float = 0.05) -> str:
    """``"ready"`` once ``url`` answers 200, ``"exited"`` if the process died, ``"timeout"`` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "exited"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return "ready"
        except requests.RequestException:
            pass
        time.sleep(poll)
    return "timeout"
