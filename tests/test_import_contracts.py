"""The import contracts in pyproject.toml hold, and they do fail when broken (checked on a copy of the package)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the [test] extra")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "webhook", tmp_path / "webhook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    clients = tmp_path / "webhook" / "clients"
    if not clients.exists():  # the clients contract needs the package: an empty one stands in
        clients.mkdir()
        (clients / "__init__.py").write_text('"""Clients of the HTTP API."""\n')
    return tmp_path


def test_the_contracts_hold_on_the_code_as_it_is(copy: Path):
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_broken_contract_fails(copy: Path):
    core = copy / "webhook" / "core" / "clock.py"
    core.write_text(core.read_text() + "\nimport sqlalchemy  # noqa: E402,F401\n")
    web = copy / "webhook" / "web" / "ops.py"
    web.write_text(web.read_text() + "\nfrom ..adapters import doorbell  # noqa: E402,F401\n")
    client = copy / "webhook" / "clients" / "leaky.py"
    client.write_text("from webhook.core import models  # noqa: F401\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    for contract in ("core imports no I/O library and no other layer", "web never imports adapters",
                     "clients import no server code"):
        assert f"{contract} BROKEN" in result.stdout, result.stdout
    assert "webhook.core.clock -> sqlalchemy" in result.stdout


def test_web_reaches_the_store_only_through_the_service():
    """import-linter sees modules, not attributes: web asking ``service.store`` directly is caught here."""
    for path in sorted((ROOT / "webhook" / "web").glob("*.py")):
        code = path.read_text(encoding="utf-8")
        assert ".store." not in code and ".store(" not in code, f"{path.name} reaches into the store"
