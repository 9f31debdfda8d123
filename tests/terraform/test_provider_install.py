"""``vcf-backup-webhook terraform-provider install``: the same bytes everywhere (so a committed lock file
holds on every machine), a launcher that finds this machine's Python, and ``terraform providers lock``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from webhook import __version__
from webhook.clients.terraform_provider import install as installing

from tests.support.terraform import Workdir, install_provider

REQUIRED = f"""
terraform {{
  required_providers {{
    vcfbackup = {{
      source  = "vcf-backup-webhook/vcfbackup"
      version = "{__version__}"
    }}
  }}
}}
"""


def hashed_files(version_dir: Path) -> dict[str, bytes]:
    """What Terraform hashes: every file inside the platform directories."""
    return {str(p.relative_to(version_dir)): p.read_bytes()
            for p in sorted(version_dir.rglob("*")) if p.is_file() and p.parent != version_dir}


def lock_hashes(path: Path) -> list[str]:
    return sorted(re.findall(r'"(h1:[^"]+)"', path.read_text(encoding="utf-8")))


def test_install_writes_the_same_bytes_whatever_the_machine(tmp_path):
    first = installing.install(tmp_path / "a", python="/opt/one/bin/python3")
    second = installing.install(tmp_path / "b" / "deeper", python="/home/someone/.venv/bin/python")
    assert hashed_files(first.version_dir) == hashed_files(second.version_dir)
    assert sorted(hashed_files(first.version_dir)) == [
        f"{p}/terraform-provider-vcfbackup_v{__version__}" for p in sorted(installing.PLATFORMS)]
    launcher = (first.executables[0]).read_text()
    assert "/opt/one" not in launcher and str(tmp_path) not in launcher and launcher.startswith("#!/bin/sh\n")
    assert (first.version_dir / "interpreter").read_text() == "/opt/one/bin/python3\n"
    assert (second.version_dir / "interpreter").read_text() == "/home/someone/.venv/bin/python\n"
    assert all(os.access(p, os.X_OK) for p in first.executables)


def test_default_directory_is_terraforms_implied_local_mirror(tmp_path):
    result = install_provider(tmp_path)
    target = tmp_path / ".terraform.d/plugins/registry.terraform.io/vcf-backup-webhook/vcfbackup" / __version__
    assert str(target) in result.stdout
    assert (target / "interpreter").read_text().strip() == sys.executable
    assert (target / "linux_amd64" / f"terraform-provider-vcfbackup_v{__version__}").is_file()


def first_line(command: list[str], env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """Start the provider as go-plugin does and read its first stdout line (then stop it)."""
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    return line, err


def test_launcher_prints_the_handshake_first_through_a_linked_directory(tmp_path):
    done = installing.install(tmp_path / "mirror")
    linked = tmp_path / "work" / ".terraform" / "providers" / "linux_amd64"  # as terraform init links it
    linked.parent.mkdir(parents=True)
    linked.symlink_to(done.executables[0].parent, target_is_directory=True)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp_path), "PLUGIN_PROTOCOL_VERSIONS": "6",
           "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"}
    line, err = first_line([str(linked / done.executables[0].name)], env, tmp_path / "work")
    assert re.fullmatch(r"1\|6\|unix\|/\S+\|grpc\|\S+\n", line), (line, err)
    assert (home / ".cache").is_dir()  # tf's certificate cache went to the (writable) HOME


def test_launcher_falls_back_to_a_private_cache_when_home_is_read_only(tmp_path):
    done = installing.install(tmp_path / "mirror")
    home = tmp_path / "readonly-home"
    home.mkdir(mode=0o555)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmp_path)}
    if os.access(home, os.W_OK):  # root writes anywhere: make HOME a file instead, which nothing can write under
        home.rmdir()
        home.write_text("")
    line, err = first_line([str(done.executables[0])], env, tmp_path)
    assert line.startswith("1|6|unix|"), err


def test_launcher_says_what_to_do_when_it_finds_no_python(tmp_path):
    done = installing.install(tmp_path / "mirror", python=str(tmp_path / "gone" / "python"))
    empty = tmp_path / "bin"
    empty.mkdir()
    (empty / "python3").symlink_to("/bin/false")
    result = subprocess.run([str(done.executables[0])], env={"PATH": f"{empty}:/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and result.stdout == ""
    assert "terraform-provider install" in result.stderr and "VCFBACKUP_PROVIDER_PYTHON" in result.stderr


def test_launcher_honours_an_explicit_python(tmp_path):
    done = installing.install(tmp_path / "mirror", python="/nonexistent/python")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
           "VCFBACKUP_PROVIDER_PYTHON": sys.executable}
    line, err = first_line([str(done.executables[0])], env, tmp_path)
    assert line.startswith("1|6|unix|"), err


def test_plugin_dir_install_and_providers_lock_give_one_hash_everywhere(tmp_path, terraform):
    mirror_a, mirror_b = tmp_path / "a", tmp_path / "b"
    installing.install(mirror_a, python=sys.executable)
    installing.install(mirror_b, python="/elsewhere/bin/python3")

    init_dir = Workdir.create(terraform, tmp_path / "init")
    init_dir.write(REQUIRED + 'provider "vcfbackup" {}\n')
    init_dir.run("init", f"-plugin-dir={mirror_a}")
    from_init = lock_hashes(init_dir.path / ".terraform.lock.hcl")
    assert len(from_init) == 1

    locked = []
    for mirror in (mirror_a, mirror_b):
        work = Workdir.create(terraform, tmp_path / f"lock-{mirror.name}")
        work.write(REQUIRED)
        work.run("providers", "lock", f"-fs-mirror={mirror}", *(f"-platform={p}" for p in installing.PLATFORMS))
        locked.append(lock_hashes(work.path / ".terraform.lock.hcl"))
    assert locked[0] == locked[1] == from_init  # one launcher, one hash, on every platform and machine


def test_the_provider_starts_without_the_http_stack_or_server_code():
    """Terraform launches it 3 to 5 times a command (bench/ measures how long): it imports neither
    ``requests`` (loaded at the first call to the service) nor any of the service's code."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import webhook.clients.terraform_provider"
                          ".__main__, webhook.clients.terraform_provider.provider"],
                         capture_output=True, text=True, timeout=60).stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines()}
    assert "requests" not in imported and "flask" not in imported and "pydantic" not in imported
    assert not {m for m in imported if m.startswith(("webhook.core", "webhook.adapters", "webhook.web"))}


def test_the_provider_version_is_the_package_version():
    from importlib.metadata import version

    from webhook.clients.terraform_provider import SOURCE, VERSION

    assert VERSION == version("vcf-backup-webhook") == __version__
    assert SOURCE == "vcf-backup-webhook/vcfbackup"
