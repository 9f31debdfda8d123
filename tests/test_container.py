"""The image cannot be built here (no registry for base images): check the Dockerfile's instructions,
and run the exact install and start commands it runs in a fresh virtual environment."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.node import free_port

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck():
    steps = instructions()
    assert [r for k, r in steps if k == "FROM"] == ["python:3.11-slim AS build", "python:3.11-slim"]
    final = dict(final_stage())
    assert final["USER"] == "vcfbackup"
    assert json.loads(final["ENTRYPOINT"]) == ["vcf-backup-webhook"] and json.loads(final["CMD"]) == ["serve"]
    assert "/healthz" in final["HEALTHCHECK"]
    assert final["EXPOSE"] == "8080" and json.loads(final["VOLUME"]) == ["/data"]
    assert not any(k == "RUN" and re.search(r"apt-get|gcc|build-essential|pip install", r) for k, r in final_stage())
    assert "/data" in final["ENV"]


def test_dockerignore_keeps_secrets_and_state_out_of_the_context():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "*.db"} <= set(ignored)


def test_compose_runs_the_service_beside_the_simulator_with_file_secrets():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["vcf-backup-webhook"]
    assert compose["services"]["sddc-manager"]["command"][0] == "simulator"
    assert service["environment"]["VCFBACKUP_SDDC_PASSWORD_FILE"].startswith("/run/secrets/")
    for secret in compose["secrets"].values():
        assert (ROOT / secret["file"]).is_file()


@pytest.mark.skipif(os.environ.get("VCFBACKUP_SKIP_IMAGE_INSTALL") == "1", reason="asked to skip")
def test_the_images_install_and_start_commands_work_in_a_fresh_venv(tmp_path):
    build_run = next(r for k, r in instructions() if k == "RUN" and "pip install" in r)
    command = build_run.replace("/opt/venv", str(tmp_path / "venv"))
    subprocess.run(command, shell=True, cwd=ROOT, check=True, capture_output=True, timeout=600)  # noqa: S602
    env_line = dict(final_stage())["ENV"]
    image_env = dict(pair.split("=", 1) for pair in shlex.split(env_line))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    env.update({k: v for k, v in image_env.items() if k.startswith("VCFBACKUP_")})
    env.update({"VCFBACKUP_PORT": str(port), "VCFBACKUP_HOST": "127.0.0.1",
                "VCFBACKUP_DATABASE_URL": f"sqlite:///{tmp_path / 'data.db'}",
                "PATH": f"{tmp_path / 'venv' / 'bin'}:{env['PATH']}"})
    entry = json.loads(dict(final_stage())["ENTRYPOINT"]) + json.loads(dict(final_stage())["CMD"])
    server = subprocess.Popen(entry, env=env, cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        healthcheck = json.loads(dict(final_stage())["HEALTHCHECK"].split("CMD", 1)[1].strip())
        healthcheck = [sys.executable if healthcheck[0] == "python" else healthcheck[0], *healthcheck[1:]]
        healthcheck[-1] = healthcheck[-1].replace("8080", str(port))
        deadline = time.monotonic() + 30
        while subprocess.run(healthcheck, capture_output=True, check=False).returncode != 0:
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(0.3)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
