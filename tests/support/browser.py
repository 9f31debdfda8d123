"""Headless Chromium from Debian, driven by selenium through Debian's chromedriver.

The driver path is given explicitly, so selenium-manager never looks for (or downloads) a browser
or a driver. Screenshots go to tests/artifacts/ (ignored by git), full page, at a given width.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.binaries import require

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TAKEN: list[Path] = []  # every screenshot this session wrote (listed at the end of the run)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--window-size=1280,900", "--hide-scrollbars")


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium (its own profile directory), closed afterwards."""
    browser = require("chromium", "chromium")
    driver_path = require("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def emulate(driver: Any, *, width: int, dark: bool = False, mobile: bool = False, height: int = 900) -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def screenshot(driver: Any, name: str, *, width: int, dark: bool = False, mobile: bool = False) -> Path:
    """A full-page PNG of what is loaded now, at ``width`` CSS pixels; returns its path (and prints it)."""
    emulate(driver, width=width, dark=dark, mobile=mobile)
    height = int(driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)"))
    emulate(driver, width=width, dark=dark, mobile=mobile, height=min(max(height, 400), 6000))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    TAKEN.append(path)
    print(f"screenshot: {path}")
    return path
