"""A missing Debian binary fails the suite in CI and is a reported skip elsewhere, never a silent pass."""

from __future__ import annotations

import pytest

from tests.support import binaries


def test_a_missing_binary_fails_in_ci_and_skips_with_the_package_name_elsewhere(monkeypatch):
    monkeypatch.setattr(binaries.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install prometheus"):
        binaries.require("promtool", "prometheus")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium-driver"):
        binaries.require("chromedriver", "chromium-driver")


def test_a_present_binary_is_found(monkeypatch):
    monkeypatch.setattr(binaries.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert binaries.require("promtool", "prometheus") == "/usr/bin/promtool"
