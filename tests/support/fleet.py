"""A fleet for flow tests: several simulators, one fleet file naming them (YAML), its password in the env."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from webhook.simulator.config import SimulatorConfig
from webhook.simulator.server import SimulatorServer

PASSWORD_ENV = "FLEET_TEST_SDDC_PASSWORD"
REGIONS = ("eu-west", "us-east", "ap-south")


def write_fleet_file(path: Path, urls: dict[str, str], labels: dict[str, dict[str, str]] | None = None) -> Path:
    instances = [{"name": name, "url": url, "username": "admin@local", "password_env": PASSWORD_ENV,
                  "labels": (labels or {}).get(name, {"region": name, "env": "prod"})} for name, url in urls.items()]
    path.write_text(yaml.safe_dump({"instances": instances}), encoding="utf-8")
    return path


@contextmanager
def simulators(names: tuple[str, ...] = REGIONS, backup_seconds: float = 0.6) -> Iterator[dict[str, SimulatorServer]]:
    sims = {name: SimulatorServer(SimulatorConfig(backup_seconds=backup_seconds)).start() for name in names}
    try:
        yield sims
    finally:
        for sim in sims.values():
            sim.stop()


@contextmanager
def blackhole() -> Iterator[str]:
    """A URL whose connections are queued by the kernel but never answered: an unreachable SDDC Manager."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
