from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from webhook.settings import Settings
from webhook.simulator import SimulatorConfig, SimulatorServer

from tests.support.node import InProcessNode
from tests.support.postgres import binaries, postgres_server
from tests.support.receiver import Receiver

API_TOKEN = "test-token-0123456789"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def pytest_configure(config: pytest.Config) -> None:
    """Every temporary file of the run, this process's and its children's, goes to one scratch directory.

    Nodes the crash tests kill with SIGKILL cannot remove their metrics directories, each node's
    log is kept for its output checks, and each store leaves its doorbell directory: ~2,000 entries
    in /tmp per run before. The directory is removed after a passing run and kept after a failing one.
    """
    scratch = tempfile.mkdtemp(prefix="vcfb-")  # short: Unix socket paths (doorbells, PostgreSQL) are bounded
    os.chmod(scratch, 0o711)  # the PostgreSQL tests' server runs as user postgres inside its own directory here
    config.stash[_SCRATCH] = (scratch, os.environ.get("TMPDIR"))
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    scratch, before = session.config.stash.get(_SCRATCH, (None, None))
    if scratch is None:
        return
    if before is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = before
    tempfile.tempdir = None
    if exitstatus == 0:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"\ntemporary files of this run (servers' logs, stores) kept in {scratch}")


_SCRATCH = pytest.StashKey[tuple[str | None, str | None]]()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's VCFBACKUP_* variables."""
    for key in list(os.environ):
        if key.startswith("VCFBACKUP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    sim = SimulatorServer(SimulatorConfig(backup_seconds=0.6, status_style="title")).start()
    yield sim
    sim.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def make_settings(tmp_path: Path, simulator: SimulatorServer, receiver: Receiver) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "sddc_url": simulator.url,
            "sddc_username": "admin@local",
            "sddc_password": "VMware123!VMware123!",
            "database_url": f"sqlite:///{tmp_path / 'store.db'}",
            "api_tokens": {"ci": API_TOKEN},
            "callback_allowed_hosts": [receiver.host],
            "callback_allow_http": True,
            "callback_signing_secret": SIGNING_SECRET,
            "poll_interval": 0.2,
            "poll_max_interval": 0.5,
            "callback_budget": 60,
            "log_level": "DEBUG",  # every log call runs in the tests (a bad `extra` key raises)
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def node(make_settings: Callable[..., Settings]) -> Iterator[InProcessNode]:
    running = InProcessNode(make_settings()).start()
    yield running
    running.stop()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL server for the module's tests (Debian's postgresql; .ci/run installs it)."""
    if binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed (.ci/run installs Debian's postgresql)")
    with postgres_server() as url:
        yield url
