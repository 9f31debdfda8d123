"""Every Terraform file in the repository run by real Terraform (the newest on the machine): each example
and the module validate; the local-exec module and the provider example apply for real against ``serve``
and the simulator. An example that needs a provider this machine cannot download is reported as
skipped with that reason, never counted as passing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import hcl2
import pytest

from tests.conftest import API_TOKEN
from tests.support.terraform import Workdir, install_provider

ROOT = Path(__file__).resolve().parents[2] / "terraform"
CONFIGURATIONS = sorted([p.parent for p in ROOT.glob("examples/*/main.tf")] + [ROOT / "modules" / "pre-change-backup"])
OURS = {"vcf-backup-webhook/vcfbackup"}


def required_providers(directory: Path) -> set[str]:
    sources: set[str] = set()
    for path in directory.glob("*.tf"):
        with path.open(encoding="utf-8") as handle:
            document = hcl2.load(handle)
        for block in document.get("terraform", []):
            for required in block.get("required_providers", []):
                sources |= {spec["source"].strip('"') for spec in required.values() if isinstance(spec, dict)}
    return sources


def copy_tree(tmp_path: Path) -> Path:
    """The whole terraform/ folder (examples reach the module by relative path), so init writes nothing here."""
    target = tmp_path / "terraform"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return target


@pytest.fixture
def newest_1_4(newest):
    if not newest.at_least(1, 4):
        pytest.skip(f"needs Terraform >= 1.4 (terraform_data); the newest here is {newest.label}")
    return newest


@pytest.mark.parametrize("directory", CONFIGURATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_validates_under_the_newest_terraform(directory, newest, tmp_path):
    foreign = sorted(required_providers(directory) - OURS)
    if foreign:
        pytest.skip(f"{directory.relative_to(ROOT)} needs {', '.join(foreign)}, which cannot be downloaded here "
                    "(no registry access): not validated by real Terraform; its HCL is checked in test_hcl.py")
    tree = copy_tree(tmp_path)
    work = Workdir.create(newest, tmp_path / "run")
    work.path = tree / directory.relative_to(ROOT)
    install_provider(work.home)
    work.run("init", "-backend=false")
    validated = work.run("validate")
    assert "Success! The configuration is valid." in validated.stdout


def test_local_exec_module_applies_for_real(newest_1_4, service, tmp_path):
    tree = copy_tree(tmp_path)
    bin_dir = str(Path(sys.executable).parent)  # where `vcf-backup-webhook` is, as on a runner that installed it
    work = Workdir.create(newest_1_4, tmp_path / "run", VCFBACKUP_TRIGGER_TOKEN=API_TOKEN)
    work.env["PATH"] = f"{bin_dir}{os.pathsep}{work.env.get('PATH', '')}"
    work.path = tree / "examples" / "local-exec"
    work.run("init")
    before = service.backup_posts()
    work.run("apply", "-auto-approve", f"-var=vcf_backup_url={service.url}")
    assert service.backup_posts() == before + 1
    state = work.state()
    assert "terraform_data.cluster_change" in state
    assert "module.pre_change_backup.terraform_data.backup" in work.run("state", "list").stdout
    plan = work.run("plan", "-detailed-exitcode", f"-var=vcf_backup_url={service.url}", check=False)
    assert plan.returncode == 0, plan.stdout
    assert API_TOKEN not in work.raw_state()


def test_provider_example_applies_and_its_freshness_gate_holds(newest_1_4, service, tmp_path):
    tree = copy_tree(tmp_path)
    work = Workdir.create(newest_1_4, tmp_path / "run", VCFBACKUP_TRIGGER_URL=service.url,
                          VCFBACKUP_TRIGGER_TOKEN=API_TOKEN)
    work.path = tree / "examples" / "provider"
    install_provider(work.home)
    work.run("init")
    before = service.backup_posts()
    work.run("apply", "-auto-approve")
    state = work.state()
    assert set(state) >= {"vcfbackup_backup.pre_change", "terraform_data.cluster_change",
                          "terraform_data.routine_change"}
    assert service.backup_posts() <= before + 1  # reuse_if_newer_than may ride on a backup from a moment ago
    assert state["vcfbackup_backup.pre_change"]["values"]["status"] == "SUCCESSFUL"
    assert work.run("plan", "-detailed-exitcode", check=False).returncode == 0

    stale = work.run("plan", "-var=max_backup_age_hours=0", check=False)
    assert stale.returncode != 0
    assert "No SUCCESSFUL SDDC Manager backup in the last 0 hours" in stale.stdout + stale.stderr


def test_every_file_and_every_docs_example_is_terraform_fmt_clean(newest, tmp_path):
    from webhook.clients.terraform_provider import docs

    tree = copy_tree(tmp_path)
    for index, example in enumerate((docs.PROVIDER_EXAMPLE, docs.BACKUP_EXAMPLE, docs.LATEST_EXAMPLE)):
        (tree / f"docs-example-{index}.tf").write_text(example + "\n", encoding="utf-8")
    work = Workdir.create(newest, tmp_path / "run")
    work.path = tree
    checked = work.run("fmt", "-check", "-recursive", "-diff", check=False)
    assert checked.returncode == 0, checked.stdout
