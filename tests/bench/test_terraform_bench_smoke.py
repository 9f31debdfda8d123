"""bench/terraform.py runs end to end and reports every number (timings are read by people, never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_terraform_bench_reports_launch_plan_and_apply_beside_the_baseline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFBACKUP_")}
    done = subprocess.run([sys.executable, "-m", "bench.terraform", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "terraform.json").read_text())
    assert results["launch_ms"]["n"] == 3 and results["launch_ms"]["median"] > 0
    assert results["python_start_ms"]["median"] > 0
    if "unavailable" in results:  # a machine without Terraform >= 1.4: said so, in the report too
        assert results["unavailable"] in (tmp_path / "terraform.md").read_text()
        return
    for side in ("provider", "baseline"):
        assert results[side]["backups"] == 1  # one apply, one backup, on both sides
        assert results[side]["apply_s"]["median"] > 0 and results[side]["plan_s"]["median"] > 0
    assert {c["target"] for c in results["targets"]} == {"provider launch median <= 200 ms",
                                                          "provider apply minus backup time <= 2 s"}
    markdown = (tmp_path / "terraform.md").read_text()
    assert "provider launch to handshake" in markdown and "baseline (`terraform_data` + `local-exec`)" in markdown
