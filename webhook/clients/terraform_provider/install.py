"""``vcf-backup-webhook terraform-provider install``: lay the provider where ``terraform init`` finds it.

Terraform's implied local mirror (``~/.terraform.d/plugins``, or ``--dir`` for ``terraform init
-plugin-dir``) in the unpacked layout::

    DIR/registry.terraform.io/vcf-backup-webhook/vcfbackup/VERSION/
        interpreter                               this machine's Python (NOT hashed by Terraform)
        linux_amd64/terraform-provider-vcfbackup_vVERSION      the launcher (hashed: same bytes everywhere)
        linux_arm64/ darwin_amd64/ darwin_arm64/  the same launcher

Terraform hashes each platform directory (its ``h1:`` hash), so that directory holds only the launcher,
whose bytes depend on nothing but the version: every machine gets the same hash and a team's
committed ``.terraform.lock.hcl`` holds everywhere. The launcher is a POSIX shell script, so one file
serves every Unix platform, and ``terraform providers lock -fs-mirror=DIR -platform=...`` can record
the hash for all of them. Which Python runs the provider is machine-specific, so it lives one level
up, in ``interpreter``, which the launcher finds relative to its own real location (Terraform links
``.terraform/providers/...`` to the mirror directory).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import HOSTNAME, NAMESPACE, TYPE, VERSION

PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
MODULE = "webhook.clients.terraform_provider"
INTERPRETER_FILE = "interpreter"
PYTHON_ENV = "VCFBACKUP_PROVIDER_PYTHON"


def default_dir() -> Path:
    """Terraform's implied local mirror directory on Unix (found with no CLI configuration at all)."""
    return Path.home() / ".terraform.d" / "plugins"


def executable_name(version: str = VERSION) -> str:
    return f"terraform-provider-{TYPE}_v{version}"


def launcher(version: str = VERSION) -> str:
    """The provider executable: the same bytes on every machine (nothing machine-specific in it)."""
    return f"""#!/bin/sh
# terraform-provider-{TYPE} {version}: launcher of the vcf-backup-webhook Terraform provider (Python).
# The same bytes on every machine, so the h1: hash in .terraform.lock.hcl holds everywhere.
# It runs the provider with the first of:
#   1. ${PYTHON_ENV}, if set;
#   2. the Python named in ../{INTERPRETER_FILE} next to this directory's real location, written by
#      `vcf-backup-webhook terraform-provider install` (outside what Terraform hashes);
#   3. python3 on PATH, if it has vcf-backup-webhook[terraform] installed.
# Nothing may be printed to stdout before the provider's handshake line: messages go to stderr.
here=$(CDPATH= cd -P -- "$(dirname -- "$0")" 2>/dev/null && pwd -P) || here=.
python=${{{PYTHON_ENV}:-}}
if [ -z "$python" ] && [ -r "$here/../{INTERPRETER_FILE}" ]; then
  IFS= read -r python < "$here/../{INTERPRETER_FILE}" || true
  [ -x "$python" ] || python=
fi
if [ -z "$python" ]; then
  python=python3
  if ! "$python" -c 'import {MODULE}' >/dev/null 2>&1; then
    echo "terraform-provider-{TYPE}: no Python with vcf-backup-webhook[terraform] found: run" \\
      "'vcf-backup-webhook terraform-provider install' again, or set {PYTHON_ENV}" >&2
    exit 1
  fi
fi
exec "$python" -P -m {MODULE} "$@"
"""


@dataclass(frozen=True)
class Installed:
    directory: Path
    version_dir: Path
    executables: list[Path]
    python: str


def install(directory: Path | None = None, *, python: str | None = None, version: str = VERSION) -> Installed:
    """Write the launcher for every Unix platform and this machine's Python beside them; idempotent."""
    root = (directory or default_dir()).expanduser().absolute()
    version_dir = root / HOSTNAME / NAMESPACE / TYPE / version
    executables = []
    for platform in PLATFORMS:
        target = version_dir / platform / executable_name(version)
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.iterdir():  # the hashed directory holds the launcher and nothing else
            if stale != target and (stale.is_file() or stale.is_symlink()):
                stale.unlink()
        _write(target, launcher(version), 0o755)
        executables.append(target)
    interpreter = python or sys.executable
    _write(version_dir / INTERPRETER_FILE, interpreter + "\n", 0o644)
    return Installed(root, version_dir, executables, interpreter)


def _write(path: Path, text: str, mode: int) -> None:
    """Atomically, so a Terraform running at the same time never sees half a launcher."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    temporary.replace(path)
