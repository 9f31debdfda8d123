"""Debian binaries the tests drive for real (promtool, chromium, chromedriver).

Missing one is a failure in CI (``CI=true``: .ci/run installs them, so absence means CI is broken)
and a skip elsewhere, with the install command in the reason so the report says what did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require(binary: str, package: str) -> str:
    """The binary's path; else fail (CI) or skip (elsewhere) naming the Debian package to install."""
    found = shutil.which(binary)
    if found:
        return found
    message = f"{binary} not found: apt-get install {package}"
    if in_ci():
        pytest.fail(message + " (CI must install it; see .ci/run)")
    pytest.skip(message)
